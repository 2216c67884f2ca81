// pam_tmuxguard.so: the exception boundary. Only the two pam_sm_* session
// entry points are exported (pam_tmuxguard.map); nothing thrown inside may
// cross into libpam, login or sshd.
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <syslog.h>

#include <exception>
#include <new>
#include <stdexcept>

#include "options.hpp"
#include "session.hpp"

namespace {

enum class Entry { open, close };

// Parses the arguments and runs one entry point; maps everything thrown to
// PAM_SYSTEM_ERR with a logged reason.
int entry_run(Entry which, pam_handle_t* pamh, int argc, const char** argv) noexcept
{
    try {
        tg::Result<tgpam::Options> o = tgpam::options_parse(argc, argv);
        if (!o) {
            tgpam::log_line(pamh, LOG_ERR, "refused: " + o.error().message());
            return PAM_SERVICE_ERR;
        }
#ifdef TMUXGUARD_PAM_FAULT_INJECTION
        if (o->fault == "throw")
            throw std::runtime_error("injected fault");
        if (o->fault == "bad_alloc")
            throw std::bad_alloc();
        if (o->fault == "int")
            throw 42;
#endif
        return which == Entry::open ? tgpam::session_open(pamh, *o)
                                    : tgpam::session_close(pamh, *o);
    } catch (const std::exception& e) {
        pam_syslog(pamh, LOG_CRIT, "internal error: %s", e.what());
    } catch (...) {
        pam_syslog(pamh, LOG_CRIT, "internal error: unknown exception");
    }
    return PAM_SYSTEM_ERR;
}

}  // namespace

// Built with hidden visibility; these two are the module's whole interface.
#define TG_PAM_EXPORT extern "C" __attribute__((visibility("default")))


TG_PAM_EXPORT int pam_sm_open_session(pam_handle_t* pamh, int /*flags*/, int argc, const char** argv)
{
    return entry_run(Entry::open, pamh, argc, argv);
}

TG_PAM_EXPORT int pam_sm_close_session(pam_handle_t* pamh, int /*flags*/, int argc,
                                    const char** argv)
{
    return entry_run(Entry::close, pamh, argc, argv);
}
