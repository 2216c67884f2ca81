// Arguments of pam_tmuxguard.so (options.hpp).
#include "options.hpp"

#include <string_view>

#include "tmuxguard/names.hpp"
#include "tmuxguard/paths.hpp"

namespace tgpam {

tg::Result<Options> options_parse(int argc, const char** argv)
{
    Options o;
    o.runtime_dir = tg::paths::default_runtime_dir;
    for (int i = 0; i < argc; ++i) {
        if (argv == nullptr || argv[i] == nullptr)
            return tg::fail("bad-argument", 0, "(null)", "a null argument");
        const std::string_view a = argv[i];
        if (a == "debug") {
            o.debug = true;
        } else if (a == "no_tmux_tmpdir") {
            o.tmux_tmpdir = false;
        } else if (a == "reap_on_logout") {
            o.reap_on_logout = true;
        } else if (a == "fail=deny") {
            o.on_failure = OnFailure::deny;
        } else if (a == "fail=ignore") {
            o.on_failure = OnFailure::ignore;
        } else if (a.starts_with("runtime_dir=")) {
            std::string_view path = a.substr(sizeof "runtime_dir=" - 1);
            // "/" itself would make every uid directory a child of the root.
            if (!tg::name_is_clean_abs_path(path) || path == "/" || path.ends_with('/'))
                return tg::fail("bad-argument", 0, tg::text_safe(a),
                                "runtime_dir= needs a clean absolute path other than /");
            o.runtime_dir = std::string(path);
#ifdef TMUXGUARD_PAM_FAULT_INJECTION
        } else if (a.starts_with("fault=")) {
            o.fault = std::string(a.substr(sizeof "fault=" - 1));
#endif
        } else {
            return tg::fail("bad-argument", 0, tg::text_safe(a.substr(0, 128)),
                            "unknown argument (known: debug, runtime_dir=PATH, no_tmux_tmpdir, "
                            "reap_on_logout, fail=deny|ignore)");
        }
    }
    return o;
}

}  // namespace tgpam
