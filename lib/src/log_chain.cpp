// The decision log's hash chain, head, record reader and verifier
// (log_chain.hpp).
#include "tmuxguard/log_chain.hpp"

#include "tmuxguard/names.hpp"

#include <nettle/sha2.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace tg {
namespace {

constexpr std::string_view kHeadMagic = "tmuxguard-log-head 1 ";
constexpr std::size_t kHeadNumber = 20;
static_assert(kHeadMagic.size() + 4 * (kHeadNumber + 1) + kHashHex + 1 == kLogHeadSize,
              "the head line has a fixed width");
constexpr std::size_t kScanChunk = 64 * 1024;

// Bytes as lowercase hex.
std::string hex_encode(const unsigned char* p, std::size_t n)
{
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(2 * n, '0');
    for (std::size_t i = 0; i < n; ++i) {
        out[2 * i] = kHex[p[i] >> 4];
        out[2 * i + 1] = kHex[p[i] & 0x0f];
    }
    return out;
}

// A fixed-width, zero-padded decimal number of the head line.
bool head_number_parse(std::string_view s, std::uint64_t& out)
{
    out = 0;
    for (char c : s) {
        if (c < '0' || c > '9')
            return false;
        auto d = static_cast<std::uint64_t>(c - '0');
        if (out > (UINT64_MAX - d) / 10)
            return false;
        out = out * 10 + d;
    }
    return !s.empty();
}

// The last line of `tail` (which ends in '\n'); all of it when no earlier
// '\n' is in it (the file's first line, or a line longer than the tail).
std::string_view tail_last_line(std::string_view tail)
{
    if (tail.size() < 2)
        return tail;
    std::size_t nl = tail.rfind('\n', tail.size() - 2);
    return nl == std::string_view::npos ? tail : tail.substr(nl + 1);
}

// The bytes after the last '\n' of `tail` (a cut record).
std::string_view tail_fragment(std::string_view tail)
{
    std::size_t nl = tail.rfind('\n');
    return nl == std::string_view::npos ? tail : tail.substr(nl + 1);
}

// json_flat_parse's reader: one pass, each byte looked at a bounded number
// of times; the first error is kept with its offset.
class FlatReader {
public:
    explicit FlatReader(std::string_view s) : s_(s) {}

    Result<JsonFlat> object()
    {
        JsonFlat out;
        if (!members(out))
            return fail("json-invalid", 0, {}, what_ + " at byte " + std::to_string(at_));
        return out;
    }

private:
    bool members(JsonFlat& out)
    {
        blanks();
        if (!take('{'))
            return error("expected '{'");
        blanks();
        if (!take('}')) {
            for (;;) {
                if (!member(out))
                    return false;
                blanks();
                if (take('}'))
                    break;
                if (!take(','))
                    return error("expected ',' or '}'");
            }
        }
        blanks();
        return i_ == s_.size() || error("text after the object");
    }
    bool member(JsonFlat& out)
    {
        blanks();
        if (out.size() == kMaxJsonFields)
            return error("more than " + std::to_string(kMaxJsonFields) + " members");
        JsonField f;
        std::size_t key_at = i_;
        if (!string(f.key))
            return false;
        if (f.key.empty() || f.key.size() > kMaxJsonKey)
            return error_at(key_at, "key of 0 or more than " + std::to_string(kMaxJsonKey) + " bytes");
        for (const JsonField& seen : out)
            if (seen.key == f.key)
                return error_at(key_at, "duplicate key");
        blanks();
        if (!take(':'))
            return error("expected ':'");
        blanks();
        if (!value(f))
            return false;
        out.push_back(std::move(f));
        return true;
    }
    bool value(JsonField& f)
    {
        if (i_ >= s_.size())
            return error("expected a value");
        char c = s_[i_];
        if (c == '"') {
            f.kind = JsonKind::string;
            return string(f.value);
        }
        if (c == '{' || c == '[')
            return error("nested object or array");
        if (c == 't' || c == 'f' || c == 'n') {
            f.kind = c == 'n' ? JsonKind::null : JsonKind::boolean;
            f.value = c == 't' ? "true" : c == 'f' ? "false" : "null";
            if (s_.substr(i_, f.value.size()) != f.value)
                return error("expected a value");
            i_ += f.value.size();
            return true;
        }
        f.kind = JsonKind::number;
        return number(f.value);
    }
    // RFC 8259: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
    bool number(std::string& out)
    {
        std::size_t start = i_;
        take('-');
        if (!take('0')) {
            if (!digit())
                return error("expected a value");
            digits();
        }
        if (take('.')) {
            if (!digit())
                return error("expected a digit after '.'");
            digits();
        }
        if (take('e') || take('E')) {
            if (!take('+'))
                take('-');
            if (!digit())
                return error("expected a digit in the exponent");
            digits();
        }
        if (i_ - start > kMaxJsonNumber)
            return error_at(start, "number longer than " + std::to_string(kMaxJsonNumber) + " bytes");
        out = std::string(s_.substr(start, i_ - start));
        return true;
    }
    bool string(std::string& out)
    {
        if (!take('"'))
            return error("expected a string");
        while (i_ < s_.size()) {
            auto c = static_cast<unsigned char>(s_[i_]);
            if (c == '"') {
                ++i_;
                return true;
            }
            if (c < 0x20)
                return error("raw control byte in a string");
            if (c == '\\') {
                ++i_;
                if (!escape(out))
                    return false;
                continue;
            }
            std::size_t n = c < 0x80 ? 1 : utf8_sequence_length(s_, i_);
            if (n == 0)
                return error("invalid UTF-8");
            out.append(s_.substr(i_, n));
            i_ += n;
        }
        return error("unterminated string");
    }
    bool escape(std::string& out)
    {
        if (i_ >= s_.size())
            return error("unterminated string");
        static constexpr std::string_view from = "\"\\/bfnrt";
        static constexpr std::string_view to = "\"\\/\b\f\n\r\t";
        char e = s_[i_];
        if (std::size_t k = from.find(e); k != std::string_view::npos) {
            ++i_;
            out += to[k];
            return true;
        }
        if (e != 'u')
            return error("unknown escape");
        ++i_;
        std::uint32_t cp = 0;
        if (!hex4(cp))
            return false;
        if (cp >= 0xdc00 && cp <= 0xdfff)
            return error("low surrogate without a high one");
        if (cp >= 0xd800 && cp <= 0xdbff) {
            std::uint32_t lo = 0;
            if (!take('\\') || !take('u'))
                return error("high surrogate without a low one");
            if (!hex4(lo))
                return false;
            if (lo < 0xdc00 || lo > 0xdfff)
                return error("high surrogate without a low one");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        utf8_append(out, cp);
        return true;
    }
    bool hex4(std::uint32_t& cp)
    {
        cp = 0;
        for (int k = 0; k < 4; ++k, ++i_) {
            char h = i_ < s_.size() ? s_[i_] : '\0';
            int d = (h >= '0' && h <= '9')   ? h - '0'
                    : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                    : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                             : -1;
            if (d < 0)
                return error("expected 4 hex digits after \\u");
            cp = cp * 16 + static_cast<std::uint32_t>(d);
        }
        return true;
    }
    bool digit() const { return i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9'; }
    void digits()
    {
        while (digit())
            ++i_;
    }
    void blanks()
    {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r' || s_[i_] == '\n'))
            ++i_;
    }
    bool take(char c)
    {
        if (i_ < s_.size() && s_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    bool error(const std::string& what) { return error_at(i_, what); }
    bool error_at(std::size_t at, const std::string& what)
    {
        if (what_.empty()) {
            what_ = what;
            at_ = at;
        }
        return false;
    }

    std::string_view s_;
    std::size_t i_ = 0;
    std::string what_;
    std::size_t at_ = 0;
};

// Sleeps `us` microseconds (a short, bounded pause between lock polls).
void pause_us(long us)
{
    struct timespec ts {0, us * 1000};
    (void)::nanosleep(&ts, nullptr);
}

// Microseconds, not milliseconds: a deadline rounded down to the
// millisecond gave up to 1 ms before the bound the contract promises.
long long monotonic_us()
{
    struct timespec ts {};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<long long>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

}  // namespace

// nettle's SHA-256, hex encoded.
std::string sha256_hex(std::string_view data)
{
    struct sha256_ctx ctx {};
    sha256_init(&ctx);
    sha256_update(&ctx, data.size(), reinterpret_cast<const std::uint8_t*>(data.data()));
    std::uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_digest(&ctx, sizeof digest, digest);
    return hex_encode(digest, sizeof digest);
}

// Clause 2: the last kMaxLine bytes.
std::string log_line_hash(std::string_view line)
{
    return sha256_hex(line.size() > kMaxLine ? line.substr(line.size() - kMaxLine) : line);
}

bool log_hash_valid(std::string_view s)
{
    return s.size() == kHashHex && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

// ---------------------------------------------------------------- the head

// Hand-made fixed-width digits: cheaper in the wrapper than vfprintf.
std::string log_head_format(const LogHead& h)
{
    std::string out(kHeadMagic);
    for (std::uint64_t v : {h.dev, h.ino, h.size, h.count}) {
        char digits[kHeadNumber];
        for (std::size_t i = kHeadNumber; i > 0; --i, v /= 10)
            digits[i - 1] = static_cast<char>('0' + v % 10);
        out.append(digits, kHeadNumber);
        out += ' ';
    }
    out += log_hash_valid(h.hash) ? h.hash : kZeroHash;
    out += '\n';
    return out;
}

std::optional<LogHead> log_head_parse(std::string_view text)
{
    if (text.size() != kLogHeadSize || !text.starts_with(kHeadMagic) || text.back() != '\n')
        return std::nullopt;
    LogHead h;
    std::uint64_t* fields[] = {&h.dev, &h.ino, &h.size, &h.count};
    std::size_t at = kHeadMagic.size();
    for (std::uint64_t* f : fields) {
        if (!head_number_parse(text.substr(at, kHeadNumber), *f) || text[at + kHeadNumber] != ' ')
            return std::nullopt;
        at += kHeadNumber + 1;
    }
    h.hash = std::string(text.substr(at, kHashHex));
    if (!log_hash_valid(h.hash))
        return std::nullopt;
    return h;
}

std::string log_head_path(const std::string& log_path)
{
    return log_path + ".head";
}

// ---------------------------------------------------------------- linking a record

// One byte when clause 3 may apply (it only needs to know the file ends in
// '\n'); otherwise enough for the last line, a cut record and the records
// past the head.
std::size_t log_link_tail_bytes(const LogHead& head, std::uint64_t dev, std::uint64_t ino,
                                std::uint64_t size)
{
    if (size == 0)
        return 0;
    if (head.dev == dev && head.ino == ino && head.size >= size)
        return 1;
    return static_cast<std::size_t>(std::min<std::uint64_t>(size, kMaxLine));
}

// The clauses of log_link_plan, in order (log_chain.hpp).
LogLink log_link_plan(const LogHead& head, const LogFileState& file)
{
    LogLink link;
    const bool same = head.dev == file.dev && head.ino == file.ino;
    if (file.size == 0 || file.tail.empty()) {  // clause 1
        link.prev = head.hash;
        link.head_update = true;
        link.count = 1;
        return link;
    }
    const bool cut = file.tail.back() != '\n';
    if (cut) {  // clause 2
        link.lead_newline = true;
        link.prev = log_line_hash(std::string(tail_fragment(file.tail)) + "\n");
    } else if (same && head.size >= file.size) {  // clause 3
        link.prev = head.hash;
    } else {  // clause 4
        link.prev = log_line_hash(tail_last_line(file.tail));
    }
    if (!same)  // clause 5
        return link;
    link.head_update = true;
    std::uint64_t past = 0;  // lines past the head, as far as the tail reaches
    if (head.size < file.size) {
        std::uint64_t tail_start = file.size - file.tail.size();
        std::size_t from = head.size > tail_start ? static_cast<std::size_t>(head.size - tail_start) : 0;
        past = static_cast<std::uint64_t>(std::count(file.tail.begin() + static_cast<std::ptrdiff_t>(from),
                                                     file.tail.end(), '\n'));
    }
    link.count = head.count + past + (cut ? 1 : 0) + 1;
    return link;
}

// ---------------------------------------------------------------- one record

Result<JsonFlat> json_flat_parse(std::string_view text, std::size_t max_bytes)
{
    if (text.size() > max_bytes)
        return fail("json-invalid", 0, {}, "longer than " + std::to_string(max_bytes) + " bytes");
    return FlatReader(text).object();
}

const JsonField* json_flat_get(const JsonFlat& obj, std::string_view key)
{
    for (const JsonField& f : obj)
        if (f.key == key)
            return &f;
    return nullptr;
}

// ---------------------------------------------------------------- reading lines

// Chunks of kScanChunk; the current line is kept as its last kMaxLine bytes.
Result<void> log_lines_scan(int fd, std::uint64_t limit,
                            const std::function<bool(const LogLine&)>& fn)
{
    std::string chunk(kScanChunk, '\0');
    std::string line;
    std::uint64_t length = 0;
    std::uint64_t off = 0;
    while (off < limit) {
        std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kScanChunk, limit - off));
        ssize_t n = ::pread(fd, chunk.data(), want, static_cast<off_t>(off));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail("log-unreadable", errno, {}, "read");
        if (n == 0)
            break;
        std::string_view data(chunk.data(), static_cast<std::size_t>(n));
        while (!data.empty()) {
            std::size_t nl = data.find('\n');
            std::size_t take = nl == std::string_view::npos ? data.size() : nl + 1;
            line.append(data.substr(0, take));
            if (line.size() > kMaxLine)
                line.erase(0, line.size() - kMaxLine);
            length += take;
            off += take;
            data.remove_prefix(take);
            if (nl == std::string_view::npos)
                continue;
            if (!fn(LogLine{line, length, true, off}))
                return {};
            line.clear();
            length = 0;
        }
    }
    if (length > 0)
        (void)fn(LogLine{line, length, false, off});
    return {};
}

// ---------------------------------------------------------------- files and locks

LogLock::~LogLock()
{
    if (fd_ >= 0)
        (void)::flock(fd_, LOCK_UN);
}

// Polls LOCK_NB with a growing pause (50 us to 2 ms) until the deadline.
Result<LogLock> log_lock(int fd, int op, int wait_ms)
{
    LogLock lock;
    const long long deadline = monotonic_us() + 1000LL * wait_ms;
    long pause = 50;
    while (::flock(fd, op | LOCK_NB) != 0) {
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK)
            return fail("log-unavailable", errno, {}, "flock");
        if (monotonic_us() >= deadline)
            return fail("log-unavailable", 0, {}, "log locked");
        pause_us(pause);
        pause = std::min(pause * 2, 2000L);
    }
    lock.fd_ = fd;
    return lock;
}

// One pread of one byte more than a head: a longer file is malformed too.
Result<LogHead> log_head_read(int head_fd)
{
    char buf[kLogHeadSize + 1];
    ssize_t n = 0;
    do {
        n = ::pread(head_fd, buf, sizeof buf, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return fail("log-unavailable", errno, {}, "read head");
    auto head = log_head_parse(std::string_view(buf, static_cast<std::size_t>(n)));
    if (!head)
        return fail("log-unavailable", 0, {}, "malformed head");
    return *head;
}

Result<void> log_head_write(int head_fd, const LogHead& h)
{
    const std::string text = log_head_format(h);
    ssize_t n = 0;
    do {
        n = ::pwrite(head_fd, text.data(), text.size(), 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return fail("log-unavailable", errno, {}, "write head");
    if (static_cast<std::size_t>(n) != text.size())
        return fail("log-unavailable", 0, {}, "short write of the head");
    return {};
}

// Every line read; the size is where the reading ended.
Result<LogHead> log_head_compute(int log_fd)
{
    struct stat st {};
    if (::fstat(log_fd, &st) != 0)
        return fail("log-unavailable", errno, {}, "fstat");
    LogHead h;
    h.dev = st.st_dev;
    h.ino = st.st_ino;
    auto scanned = log_lines_scan(log_fd, static_cast<std::uint64_t>(st.st_size), [&](const LogLine& l) {
        h.size = l.end;
        if (l.complete) {
            ++h.count;
            h.hash = log_line_hash(l.text);
        }
        return true;
    });
    if (!scanned)
        return fail("log-unavailable", scanned.error().err, {}, "read");
    return h;
}

// ---------------------------------------------------------------- verifying

void LogVerifier::file_begin(const std::string& name, const std::optional<LogHead>& head)
{
    file_ = name;
    head_ = head;
    lineno_ = 0;
    file_bytes_ = 0;
    head_line_ = 0;
    head_line_hash_.clear();
    head_line_found_ = head && head->size == 0;
    if (head && start_hash_.empty())
        start_hash_ = head->hash;
}

bool LogVerifier::fail(std::uint64_t line, const std::string& message)
{
    if (report_.problem.empty())
        report_.problem = file_ + ":" + std::to_string(line) + ": " + message;
    return false;
}

// Clauses 1 to 3 for one line, then its place against the head (clause 4).
bool LogVerifier::line(const LogLine& l)
{
    if (failed())
        return false;
    ++lineno_;
    if (!l.complete)
        return fail(lineno_, "truncated: the last line has no newline (a record cut short)");
    if (l.length > kMaxRecord)
        return fail(lineno_, "not one complete JSON object (" + std::to_string(l.length) +
                                 " bytes; a record is at most " + std::to_string(kMaxRecord) + ")");
    auto obj = json_flat_parse(l.text.substr(0, l.text.size() - 1));
    if (!obj)
        return fail(lineno_, "not one complete JSON object (" + obj.error().detail + ")");
    if (!line_prev_check(*obj))
        return false;
    const std::string hash = log_line_hash(l.text);
    head_offset_check(l, hash);
    last_hash_ = hash;
    last_where_ = file_ + ":" + std::to_string(lineno_);
    file_bytes_ = l.end;
    ++report_.records;
    return !failed();
}

// Clauses 2 and 3.
bool LogVerifier::line_prev_check(const JsonFlat& obj)
{
    const JsonField* prev = json_flat_get(obj, "prev");
    const std::string here = file_ + ":" + std::to_string(lineno_);
    if (prev == nullptr) {
        if (chained_)
            return fail(lineno_, "no \"prev\" field after chained records (a record was inserted)");
        if (legacy_++ == 0)
            legacy_where_ = here;
        return true;
    }
    if (prev->kind != JsonKind::string || !log_hash_valid(prev->value))
        return fail(lineno_, "malformed \"prev\" (want 64 lowercase hex digits)");
    if (!chained_) {
        chained_ = true;
        if (legacy_ > 0)
            report_.notes.push_back(legacy_where_ + ": note: " + std::to_string(legacy_) +
                                    " records at the start carry no \"prev\" (written before the hash chain)");
        if (last_hash_.empty()) {
            if (prev->value != kZeroHash)
                report_.notes.push_back(here + ": note: the chain continues an earlier file (prev " +
                                        prev->value + ")");
            return true;
        }
    }
    if (prev->value == last_hash_)
        return true;
    std::string before = last_where_.starts_with(file_ + ":") && lineno_ > 1
                             ? "line " + std::to_string(lineno_ - 1)
                             : last_where_;
    return fail(lineno_, "\"prev\" does not match the previous record (" + before +
                             "): it was changed, or a record was removed or inserted");
}

// Clause 4: the line that ends exactly where the head says the log ended.
void LogVerifier::head_offset_check(const LogLine& l, const std::string& hash)
{
    if (!head_ || head_line_found_)
        return;
    if (l.end == head_->size) {
        head_line_found_ = true;
        head_line_ = lineno_;
        head_line_hash_ = hash;
    } else if (l.end > head_->size) {
        (void)fail(lineno_, "the head says a record ends at byte " + std::to_string(head_->size) +
                                ", inside line " + std::to_string(lineno_) +
                                ": the log was changed at or before it");
    }
}

bool LogVerifier::file_end()
{
    if (failed())
        return false;
    if (!head_)
        return true;
    const LogHead& h = *head_;
    if (file_bytes_ < h.size)
        return fail(lineno_ + 1, "truncated at a record boundary: the head records " +
                                     std::to_string(h.count) + " records (" + std::to_string(h.size) +
                                     " bytes), the file has " + std::to_string(lineno_) + " (" +
                                     std::to_string(file_bytes_) + " bytes)");
    if (!head_line_found_)
        return fail(lineno_, "no record ends where the head says the log ended");
    if (h.size > 0 && head_line_hash_ != h.hash)
        return fail(head_line_, "the record the head names last was changed (its sha256 is not the head's)");
    if (head_line_ != h.count)
        return fail(std::max<std::uint64_t>(head_line_, 1),
                    "the head records " + std::to_string(h.count) + " records up to byte " +
                        std::to_string(h.size) + ", the file has " + std::to_string(head_line_) +
                        ": records were removed or inserted");
    if (lineno_ > head_line_)
        report_.warnings.push_back(
            file_ + ":" + std::to_string(head_line_ + 1) + ": warning: " +
            std::to_string(lineno_ - head_line_) +
            " records past the head (a writer stopped between its record and the head, or "
            "something other than tmuxguard appended them)");
    return true;
}

void LogVerifier::problem_set(std::string text)
{
    if (report_.problem.empty())
        report_.problem = std::move(text);
}

void LogVerifier::note_add(std::string text)
{
    report_.notes.push_back(std::move(text));
}

VerifyReport LogVerifier::report() const
{
    VerifyReport r = report_;
    if (legacy_ > 0 && !chained_)
        r.notes.push_back(legacy_where_ + ": note: " + std::to_string(legacy_) +
                          " records carry no \"prev\" (written before the hash chain)");
    r.last_hash = !last_hash_.empty() ? last_hash_ : !start_hash_.empty() ? start_hash_ : kZeroHash;
    return r;
}

}  // namespace tg
