// The decision log: one JSON object per line, one line per attempt, written
// with a single write() to an O_APPEND file, plus one LOG_AUTHPRIV syslog line
// with the same facts (STYLE.md 8).
//
// Contract:
//  1. every user-influenced string is capped (kMaxField bytes) and escaped;
//     the encoded line holds no byte < 0x20 and no 0x7f, and ends in "\n";
//  2. the whole record goes out in one write(); a short write is an error;
//  3. a record that cannot be written is an error the caller turns into deny.
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

// RFC 3339 UTC with microseconds: "2026-11-25T14:31:25.123456Z".
[[nodiscard]] std::string log_timestamp(const struct timespec& ts);

// JSON string body escaping (no quotes added), capped at `cap` input bytes
// (a cut adds "..."). Bytes >= 0x80 that do not form valid UTF-8 are written
// as \u00XX; control bytes as \uXXXX.
[[nodiscard]] std::string json_escape(std::string_view s, std::size_t cap = kMaxField);

// The record as one line of JSON ending in '\n', at most kMaxRecord bytes.
[[nodiscard]] std::string log_encode(const DecisionRecord& r, const struct timespec& ts);

// Opens the log for appending: O_WRONLY|O_APPEND|O_NOFOLLOW|O_CLOEXEC|O_NONBLOCK,
// never O_CREAT; then fstat: a regular file, one link, owned by root, not
// writable by other. Reason: "log-unavailable".
[[nodiscard]] Result<UniqueFd> log_open(const std::string& path);

// Writes one encoded line with a single write() (EINTR retried; a short
// write, EFBIG, or any finite RLIMIT_FSIZE is an error: a limit plus a
// concurrent appender could make the kernel cut the line).
[[nodiscard]] Result<void> log_write(int fd, std::string_view line);

// The same facts as one syslog(LOG_AUTHPRIV) line, "key=value" pairs with
// values escaped like the JSON strings.
void log_syslog(const DecisionRecord& r);

// The text log_syslog() sends: "decision=deny reason=no-rule uid=1001
// share=\"x\" mode=view ...", user-influenced values quoted, unknown values
// left out, at most kMaxRecord bytes (exposed for tests).
[[nodiscard]] std::string log_syslog_format(const DecisionRecord& r);

}  // namespace tg
