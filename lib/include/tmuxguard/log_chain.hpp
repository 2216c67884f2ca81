// The decision log's hash chain, its head file, a strict reader for one
// record, and the verifier behind `tmuxguard log verify`.
//
// The chain (decision_log.hpp's log_append writes it):
//  1. every record ends in `"prev":"HEX"`, the SHA-256 (nettle) of the line
//     before it, '\n' included; the first record of a new chain has 64 zeros;
//  2. a line longer than kMaxLine (only damage makes one) is linked by the
//     hash of its last kMaxLine bytes, so a writer never reads more than
//     that to link onto it;
//  3. the head file (LOG + ".head", root:GATE 0660) holds one fixed-width
//     line naming the log's device and inode, its size after the last
//     record, the records it holds and the last record's hash; it is
//     rewritten in place under the log's lock after every record, and
//     anchors what the chain alone cannot show: a cut at a record boundary
//     and a changed last record.
//
// What it proves: a record changed, removed or inserted anywhere, a cut, and
// against the head a truncation. What it does not: anyone who can write the
// log and the head (root, or code running with the gate group) can rewrite
// both consistently. The syslog line carries each record's hash, so a
// remote syslog is the anchor such a writer cannot reach.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tmuxguard/decision_log.hpp"
#include "tmuxguard/error.hpp"

namespace tg {

// Hex digits of a SHA-256, and the prev of a chain's first record.
inline constexpr std::size_t kHashHex = 64;
inline const std::string kZeroHash(kHashHex, '0');
// Lines longer than this are linked by their last kMaxLine bytes (clause 2);
// also the most a writer reads back from the end of the log.
inline constexpr std::size_t kMaxLine = 64 * 1024;
// A writer waits at most this long for the log's lock.
inline constexpr int kLogLockWaitMs = 2000;

// SHA-256 of `data` as 64 lowercase hex digits.
[[nodiscard]] std::string sha256_hex(std::string_view data);

// The hash that links the next record to `line` (clause 2): SHA-256 of its
// last kMaxLine bytes, '\n' included.
[[nodiscard]] std::string log_line_hash(std::string_view line);

// Whether `s` is 64 lowercase hex digits.
[[nodiscard]] bool log_hash_valid(std::string_view s);

// ---------------------------------------------------------------- the head

struct LogHead {
    std::uint64_t dev = 0;
    std::uint64_t ino = 0;
    std::uint64_t size = 0;   // the log's size after the last record
    std::uint64_t count = 0;  // lines in the log up to `size`
    std::string hash = kZeroHash;  // of the last line, or the chain's start
};

// "tmuxguard-log-head 1 DEV INO SIZE COUNT HEX\n", numbers zero-padded to
// 20 digits: always kLogHeadSize bytes.
inline constexpr std::size_t kLogHeadSize = 170;
[[nodiscard]] std::string log_head_format(const LogHead& h);
// The head, or nullopt unless `text` is exactly one such line.
[[nodiscard]] std::optional<LogHead> log_head_parse(std::string_view text);
// LOG + ".head".
[[nodiscard]] std::string log_head_path(const std::string& log_path);

// ---------------------------------------------------------------- linking a record

// What a writer knows when it links a record: the log's identity and size,
// and its last bytes.
struct LogFileState {
    std::uint64_t dev = 0;
    std::uint64_t ino = 0;
    std::uint64_t size = 0;
    // The bytes ending at `size`: the whole file, or at least its last
    // kMaxLine bytes; one byte is enough when that byte is '\n' and the head
    // names this file with a size not below `size` (log_link_tail_bytes).
    std::string_view tail;
};

struct LogLink {
    std::string prev;           // the new record's "prev"
    bool lead_newline = false;  // write '\n' first: the file ends in a cut record
    bool head_update = false;   // rewrite the head after the record
    std::uint64_t count = 0;    // the head's count once the record is written
};

// How many bytes from the end a writer must read for log_link_plan().
[[nodiscard]] std::size_t log_link_tail_bytes(const LogHead& head, std::uint64_t dev,
                                              std::uint64_t ino, std::uint64_t size);

// Contract of log_link_plan (pure; the writer's whole policy):
//  1. an empty file continues the head's hash (a new chain: zeros; after a
//     rotation or copytruncate: the previous file's last record) and the
//     head then names this file;
//  2. a file that does not end in '\n' ends in a cut record: the record is
//     written after a '\n', linked to that fragment plus '\n', so the damage
//     stays on a line of its own and `log verify` reports it;
//  3. the head names this file and the file is not longer than it says:
//     link to the head's hash, not to the file's last line, so a changed
//     last record or a cut at a record boundary stays visible after the
//     next record;
//  4. otherwise link to the file's last line (records past the head: a
//     writer stopped between its record and the head, or another writer);
//  5. a non-empty file the head does not name (a rotated file a late writer
//     still holds) gets the record, linked to its own last line, but the
//     head is left naming the newer file;
//  6. it never refuses: whatever the file holds, the record goes on it.
[[nodiscard]] LogLink log_link_plan(const LogHead& head, const LogFileState& file);

// ---------------------------------------------------------------- one record

enum class JsonKind { string, number, boolean, null };

struct JsonField {
    std::string key;
    JsonKind kind = JsonKind::null;
    std::string value;  // decoded string; a number as written; "true", "false", "null"
};
using JsonFlat = std::vector<JsonField>;  // in the order of the line

inline constexpr std::size_t kMaxJsonFields = 64;
inline constexpr std::size_t kMaxJsonKey = 64;
inline constexpr std::size_t kMaxJsonNumber = 32;

// Contract of json_flat_parse (pure: no I/O, no global state; any input
// bytes give a result or an error, in time linear in the input):
//  1. input longer than `max_bytes` (default kMaxRecord, a record without
//     its '\n') is refused before it is read;
//  2. exactly one object: '{' members '}', RFC 8259 whitespace (space, tab,
//     CR, LF) between tokens, nothing else before or after;
//  3. a value is a string, a number, true, false or null; an object or an
//     array is refused ("nested");
//  4. keys are strings of 1 to kMaxJsonKey bytes, each at most once; at
//     most kMaxJsonFields members;
//  5. strings hold no raw byte below 0x20 and only valid UTF-8 (RFC 3629);
//     escapes are \" \\ \/ \b \f \n \r \t and \uXXXX, a high surrogate only
//     followed by a low one; decoded to UTF-8 (\u0000 is a NUL byte);
//  6. numbers follow RFC 8259's grammar, at most kMaxJsonNumber bytes, kept
//     as written;
//  7. an error has reason "json-invalid" and says what, at which byte.
[[nodiscard]] Result<JsonFlat> json_flat_parse(std::string_view text, std::size_t max_bytes = kMaxRecord - 1);

// The field named `key`, or nullptr.
[[nodiscard]] const JsonField* json_flat_get(const JsonFlat& obj, std::string_view key);

// ---------------------------------------------------------------- reading lines

struct LogLine {
    std::string_view text;     // the line, '\n' included; its last kMaxLine bytes if longer
    std::uint64_t length = 0;  // the whole line's length, '\n' included
    bool complete = false;     // ends in '\n' (only the file's last line may not)
    std::uint64_t end = 0;     // the offset just past the line
};

// Reads `fd` from offset 0 up to `limit` bytes (or its end), in 64 KiB
// preads, calling `fn` per line until it returns false. Memory is bounded
// (a long line is kept as its last kMaxLine bytes). Reason "log-unreadable".
[[nodiscard]] Result<void> log_lines_scan(int fd, std::uint64_t limit,
                                          const std::function<bool(const LogLine&)>& fn);

// ---------------------------------------------------------------- files and locks

// Holds the flock() taken by log_lock; releases it (LOCK_UN) when destroyed.
class LogLock {
public:
    LogLock() = default;
    LogLock(const LogLock&) = delete;
    LogLock& operator=(const LogLock&) = delete;
    LogLock(LogLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    LogLock& operator=(LogLock&&) = delete;
    ~LogLock();

private:
    friend Result<LogLock> log_lock(int fd, int op, int wait_ms);
    int fd_ = -1;
};

// flock(`op`: LOCK_EX or LOCK_SH) on the head (clause 4), polling LOCK_NB
// for at most `wait_ms`. Reason "log-unavailable" ("log locked" after the
// wait).
[[nodiscard]] Result<LogLock> log_lock(int fd, int op, int wait_ms = kLogLockWaitMs);

// Reads and parses the head at offset 0 (pread). Reason "log-unavailable",
// detail "malformed head" when it is not exactly one head line.
[[nodiscard]] Result<LogHead> log_head_read(int head_fd);

// Rewrites the head in place: one pwrite of kLogHeadSize bytes at offset 0.
[[nodiscard]] Result<void> log_head_write(int head_fd, const LogHead& h);

// The head that describes the whole log as it is: its device, inode and
// size, its number of complete lines and the hash of the last one (zeros
// when there is none). Reads the whole file; for `reload`, not writers.
[[nodiscard]] Result<LogHead> log_head_compute(int log_fd);

// ---------------------------------------------------------------- verifying

struct VerifyReport {
    std::string problem;                // "FILE:LINE: MESSAGE", the first one; empty: none
    std::vector<std::string> warnings;  // "FILE:LINE: warning: MESSAGE"
    std::vector<std::string> notes;     // "FILE:LINE: note: MESSAGE"
    std::uint64_t records = 0;          // lines read, over all files
    std::string last_hash;              // of the last line read (or the chain's start)
};

// Contract of LogVerifier (pure: it is fed lines and heads, it reads nothing):
//  1. every line is one complete flat JSON object of at most kMaxRecord
//     bytes ending in '\n'; a last line without '\n' is a cut record;
//  2. records with no "prev" at all are allowed only before the first
//     chained record (written by a version without the chain): one note;
//  3. every "prev" is 64 lowercase hex digits and equals the hash of the
//     line before it, across files in the order given; the very first
//     record may carry any prev (zeros: a new chain; otherwise a note that
//     it continues an earlier file);
//  4. against a head that names the file: the file is not shorter than the
//     head says (a cut at a record boundary), a line ends exactly at the
//     head's size, that line has the head's hash and is the head's count-th;
//     records past the head that chain correctly are a warning, not a
//     problem;
//  5. the first problem stops it; it is reported as FILE:LINE: MESSAGE.
class LogVerifier {
public:
    // Starts the next file; `head` when the head names this file.
    void file_begin(const std::string& name, const std::optional<LogHead>& head = std::nullopt);
    // One line of the current file; false once a problem was found.
    bool line(const LogLine& l);
    // Ends the current file (clause 4); false once a problem was found.
    bool file_end();
    // A problem found outside the lines (the head file itself).
    void problem_set(std::string text);
    void note_add(std::string text);

    [[nodiscard]] bool failed() const { return !report_.problem.empty(); }
    [[nodiscard]] VerifyReport report() const;

private:
    bool fail(std::uint64_t line, const std::string& message);
    bool line_prev_check(const JsonFlat& obj);
    void head_offset_check(const LogLine& l, const std::string& hash);
    bool head_end_check();

    VerifyReport report_;
    std::string file_;
    std::string prev_file_;
    std::optional<LogHead> head_;
    std::uint64_t lineno_ = 0;     // in the current file
    std::uint64_t file_bytes_ = 0;
    std::string last_hash_;        // of the line before; empty: none yet
    std::string last_where_;       // FILE:LINE of that line
    std::string start_hash_;       // the first head's hash (the chain's start, no lines)
    bool chained_ = false;         // a record with "prev" was seen
    std::uint64_t legacy_ = 0;     // records before it without "prev"
    std::string legacy_where_;     // FILE:1 of the first one
    std::uint64_t head_line_ = 0;  // the line that ends at head_->size (0: none)
    std::string head_line_hash_;
    bool head_line_found_ = false;
};

}  // namespace tg
