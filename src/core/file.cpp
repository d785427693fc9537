#include "qkv/file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>

#include "qkv/error.h"

namespace qkv {

MappedFile::MappedFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_io("cannot open for reading", path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    throw_io("cannot stat", path, e);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(ErrorKind::IO, "not a regular file", path);
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int e = errno;
      ::close(fd);
      throw_io("cannot mmap", path, e);
    }
    data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
}

void release_mapped_pages(std::span<const uint8_t> range) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<uintptr_t>(range.data()) + page - 1) / page * page;
  const auto end = (reinterpret_cast<uintptr_t>(range.data()) + range.size()) / page * page;
  // Advice only: a failure leaves the pages resident, which is merely slower to reclaim.
  if (end > begin) (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

MappedFile::MappedFile(MappedFile&& o) noexcept
    : path_(std::move(o.path_)), data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
  if (this != &o) {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
    path_ = std::move(o.path_);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

namespace {
constexpr size_t kBufferSize = 1 << 20;
}

AtomicFile::AtomicFile(const std::string& path) : path_(path) {
  const std::filesystem::path target(path);
  const auto dir = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  std::string templ = (dir / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
  fd_ = ::mkstemp(templ.data());
  if (fd_ < 0) throw_io("cannot create a temporary file beside the output", path, errno);
  tmp_ = templ;
  ::fchmod(fd_, 0644);
  buf_.reserve(kBufferSize);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !tmp_.empty()) ::unlink(tmp_.c_str());
}

void AtomicFile::flush() {
  size_t done = 0;
  while (done < buf_.size()) {
    const ssize_t w = ::write(fd_, buf_.data() + done, buf_.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw_io("write failed (is the disk full?)", path_, errno);
    }
    done += static_cast<size_t>(w);
  }
  buf_.clear();
}

void AtomicFile::write(const void* data, size_t n) {
  if (committed_) throw Error(ErrorKind::Usage, "write after commit", path_);
  const char* p = static_cast<const char*>(data);
  if (buf_.size() + n > kBufferSize) flush();
  if (n >= kBufferSize) {
    // Large writes go straight through, without a copy.
    std::string_view view(p, n);
    size_t done = 0;
    while (done < n) {
      const ssize_t w = ::write(fd_, view.data() + done, n - done);
      if (w < 0) {
        if (errno == EINTR) continue;
        throw_io("write failed (is the disk full?)", path_, errno);
      }
      done += static_cast<size_t>(w);
    }
  } else {
    buf_.append(p, n);
  }
  pos_ += n;
}

void AtomicFile::write_zeros(size_t n) {
  static const char zeros[4096] = {};
  while (n > 0) {
    const size_t k = n < sizeof(zeros) ? n : sizeof(zeros);
    write(zeros, k);
    n -= k;
  }
}

void AtomicFile::commit(const std::function<void(const std::string&)>& before_rename) {
  if (committed_) return;
  flush();
  if (::fsync(fd_) != 0) throw_io("fsync failed", path_, errno);
  if (::close(fd_) != 0) {
    fd_ = -1;
    throw_io("close failed", path_, errno);
  }
  fd_ = -1;
  if (before_rename) before_rename(tmp_);
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) throw_io("cannot rename the temporary file onto", path_, errno);
  committed_ = true;
  // Make the rename itself durable.
  const auto dir = std::filesystem::path(path_).has_parent_path() ? std::filesystem::path(path_).parent_path()
                                                                   : std::filesystem::path(".");
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::IO, "cannot read the file", path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, std::string_view bytes) {
  AtomicFile out(path);
  out.write(bytes.data(), bytes.size());
  out.commit();
}

}  // namespace qkv
