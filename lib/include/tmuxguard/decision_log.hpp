// The decision log: one JSON object per line, one line per attempt, written
// with a single write() to an O_APPEND file, plus one LOG_AUTHPRIV syslog line
// with the same facts (STYLE.md 8).
//
// Contract:
//  1. every user-influenced string is capped (kMaxField bytes) and escaped;
//     the encoded line holds no byte < 0x20 and no 0x7f, and ends in "\n";
//  2. the whole record goes out in one write(); a short write is an error;
//  3. a record that cannot be written is an error the caller turns into deny;
//  4. every writer appends through log_append(): under the head's lock,
//     each record is linked to the one before by its "prev" hash and the
//     head is rewritten (log_chain.hpp has the chain's rules).
#pragma once

#include <sys/types.h>

#include <ctime>
#include <string>
#include <string_view>

#include "tmuxguard/error.hpp"
#include "tmuxguard/unique_fd.hpp"

namespace tg {

inline constexpr std::size_t kMaxField = 256;
inline constexpr std::size_t kMaxRecord = 4096;

struct DecisionRecord {
    std::string event = "attach";  // "attach" or "check" (-n), or a CLI event
    bool allow = false;
    std::string reason;
    long long uid = -1;
    std::string share;
    std::string mode;        // "none", "view", "interact"
    long long owner_uid = -1;  // -1: unknown (written as null)
    std::string socket;
    long long server_pid = -1;  // -1: unknown (null)
    long long pid = -1;
    std::string tty;
    std::string session;
    std::string rule;        // "FILE:LINE" or "owner", empty: null
    std::string detail;      // free text (errno message etc.), empty: omitted
};

// Length of the well-formed UTF-8 sequence of two to four bytes at s[i]
// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or
// 0 when the bytes there are not one.
[[nodiscard]] std::size_t utf8_sequence_length(std::string_view s, std::size_t i);

// RFC 3339 UTC with microseconds: "2026-11-25T14:31:25.123456Z".
[[nodiscard]] std::string log_timestamp(const struct timespec& ts);

// JSON string body escaping (no quotes added), capped at `cap` input bytes
// (a cut adds "..."). Bytes >= 0x80 that do not form valid UTF-8 are written
// as \u00XX; control bytes as \uXXXX.
[[nodiscard]] std::string json_escape(std::string_view s, std::size_t cap = kMaxField);

// The record as one line of JSON ending in '\n', at most kMaxRecord bytes;
// `prev` (64 hex digits), when given, is its last field.
[[nodiscard]] std::string log_encode(const DecisionRecord& r, const struct timespec& ts,
                                     std::string_view prev = {});

// Opens the log for appending and reading its tail (the chain):
// O_RDWR|O_APPEND|O_NOFOLLOW|O_CLOEXEC|O_NONBLOCK, never O_CREAT; then fstat:
// a regular file, one link, owned by root, not writable by other.
// Reason: "log-unavailable".
[[nodiscard]] Result<UniqueFd> log_open(const std::string& path);

// Opens the log's head (log_chain.hpp) the same way, without O_APPEND.
[[nodiscard]] Result<UniqueFd> log_head_open(const std::string& path);

// The log and its head, opened together (the wrapper before its filter).
struct LogFiles {
    UniqueFd log;
    UniqueFd head;
    [[nodiscard]] bool valid() const { return log.valid() && head.valid(); }
    void reset()
    {
        head.reset();
        log.reset();
    }
};

// log_open(path) and log_head_open(path + ".head"). Reason "log-unavailable".
[[nodiscard]] Result<LogFiles> log_files_open(const std::string& log_path);

// Appends one record: flock(LOCK_EX) on the head (at most kLogLockWaitMs),
// the head read, the log's tail read back as far as
// log_link_plan() needs (one bounded pread), the record encoded with its
// "prev", one write() (a '\n' first after a cut record), the head rewritten
// in place, unlock. Returns the record's SHA-256 (for syslog). Any failure
// is "log-unavailable"; a missing or malformed head is one.
[[nodiscard]] Result<std::string> log_append(LogFiles& files, const DecisionRecord& r,
                                             const struct timespec& ts);

// Writes one encoded line with a single write() (EINTR retried; a short
// write, EFBIG, or any finite RLIMIT_FSIZE is an error: a limit plus a
// concurrent appender could make the kernel cut the line).
[[nodiscard]] Result<void> log_write(int fd, std::string_view line);

// The same facts as one syslog(LOG_AUTHPRIV) line, "key=value" pairs with
// values escaped like the JSON strings; `sha256`, the hash of the record as
// written to the log (when it was), last: a remote syslog keeps an anchor
// of the chain that nobody on this machine can rewrite.
void log_syslog(const DecisionRecord& r, std::string_view sha256 = {});

// The text log_syslog() sends: "decision=deny reason=no-rule uid=1001
// share=\"x\" mode=view ... sha256=HEX", user-influenced values quoted,
// unknown values left out, at most kMaxRecord bytes (exposed for tests).
[[nodiscard]] std::string log_syslog_format(const DecisionRecord& r, std::string_view sha256 = {});

}  // namespace tg
