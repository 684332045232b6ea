// The error hierarchy: one base to catch, a "labelrep: " prefix, and paths and byte offsets in messages.
#include "catch.hpp"

#include <torch/types.h>

#include <string>
#include <type_traits>

#include "labelrep/core/class_names.hpp"
#include "labelrep/core/error.hpp"
#include "labelrep/core/npy.hpp"

static_assert(std::is_base_of_v<std::runtime_error, labelrep::Error>);
static_assert(std::is_base_of_v<labelrep::Error, labelrep::InvalidArgument>);
static_assert(std::is_base_of_v<labelrep::Error, labelrep::IoError>);
static_assert(std::is_base_of_v<labelrep::Error, labelrep::FormatError>);
static_assert(std::is_base_of_v<labelrep::Error, labelrep::TorchError>);
static_assert(std::is_base_of_v<labelrep::Error, labelrep::OutOfMemory>);
static_assert(std::is_base_of_v<labelrep::Error, labelrep::InternalError>);

namespace {

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

// Throws `error` and returns what a caller catching only labelrep::Error sees; "" if it escapes.
template <typename E>
std::string caught_as_base(const E& error) {
  try {
    throw error;
  } catch (const labelrep::Error& e) {
    return e.what();
  } catch (...) {
    return {};
  }
}

}  // namespace

CATCH_TEST_CASE("every labelrep error is caught as labelrep::Error and starts with 'labelrep: '", "[core][errors]") {
  const std::string messages[] = {
      caught_as_base(labelrep::Error("base")),
      caught_as_base(labelrep::InvalidArgument("bad option")),
      caught_as_base(labelrep::IoError("/tmp/x.bin", "cannot open")),
      caught_as_base(labelrep::FormatError("/tmp/x.npy", 3, "bad magic")),
      caught_as_base(labelrep::TorchError("mat1 and mat2 shapes cannot be multiplied")),
      caught_as_base(labelrep::OutOfMemory("cannot allocate 8 GiB")),
      caught_as_base(labelrep::InternalError("unexpected state")),
  };
  for (const auto& message : messages) {
    CATCH_INFO(message);
    CATCH_CHECK(starts_with(message, "labelrep: "));
  }
  CATCH_CHECK(std::string(messages[1]) == "labelrep: bad option");
  // A message that already has the prefix does not get it twice.
  CATCH_CHECK(std::string(labelrep::InvalidArgument("labelrep: x").what()) == "labelrep: x");
  CATCH_CHECK(std::string(labelrep::Error("").what()) == "labelrep: ");
}

CATCH_TEST_CASE("error_reason drops the 'labelrep: ' prefix once, and leaves other messages as they are", "[core][errors]") {
  CATCH_CHECK(labelrep::error_reason(labelrep::IoError("/tmp/x.bin", "cannot open")) == "/tmp/x.bin: cannot open");
  CATCH_CHECK(labelrep::error_reason(labelrep::InvalidArgument("labelrep: labelrep: twice")) == "labelrep: twice");
  CATCH_CHECK(labelrep::error_reason(std::runtime_error("plain")) == "plain");
  CATCH_CHECK(labelrep::error_reason(std::runtime_error("a labelrep: inside")) == "a labelrep: inside");
  CATCH_CHECK(labelrep::error_reason(labelrep::Error("")).empty());
}

CATCH_TEST_CASE("IoError and FormatError carry the path and the byte offset", "[core][errors]") {
  const labelrep::IoError io("/data/cifar/batch_1.bin", "cannot open: No such file or directory");
  CATCH_CHECK(io.path() == "/data/cifar/batch_1.bin");
  CATCH_CHECK(std::string(io.what()) == "labelrep: /data/cifar/batch_1.bin: cannot open: No such file or directory");

  const labelrep::FormatError format("/data/labels.npy", 17, "bad version");
  CATCH_CHECK(format.path() == "/data/labels.npy");
  CATCH_CHECK(format.offset() == 17);
  CATCH_CHECK(std::string(format.what()) == "labelrep: /data/labels.npy: at byte 17: bad version");

  // Offset 0 is a real offset; only kNoOffset means "the file as a whole".
  CATCH_CHECK(std::string(labelrep::FormatError("f", 0, "x").what()) == "labelrep: f: at byte 0: x");
  const labelrep::FormatError whole("/data/labels.npy", labelrep::FormatError::kNoOffset, "checksum mismatch");
  CATCH_CHECK(whole.offset() == labelrep::FormatError::kNoOffset);
  CATCH_CHECK(std::string(whole.what()) == "labelrep: /data/labels.npy: checksum mismatch");
}

CATCH_TEST_CASE("errors thrown by the library have the documented form", "[core][errors]") {
  try {
    labelrep::decode_npy(std::string("\x93NUMPY\x09\x00", 8), "in-memory.npy");
    CATCH_FAIL("accepted version 9.0");
  } catch (const labelrep::FormatError& e) {
    const std::string what = e.what();
    CATCH_CHECK(starts_with(what, "labelrep: in-memory.npy: at byte 6: "));
    CATCH_CHECK(what.find("9.0") != std::string::npos);
  }
  try {
    labelrep::read_npy("/nonexistent/labels.npy");
    CATCH_FAIL("read a missing file");
  } catch (const labelrep::IoError& e) {
    CATCH_CHECK(e.path() == "/nonexistent/labels.npy");
    CATCH_CHECK(starts_with(e.what(), "labelrep: /nonexistent/labels.npy: "));
  }
  try {
    labelrep::encode_npy(torch::zeros({1}, torch::kComplexFloat));
    CATCH_FAIL("encoded a complex tensor");
  } catch (const labelrep::InvalidArgument& e) {
    CATCH_CHECK(starts_with(e.what(), "labelrep: "));
    CATCH_CHECK(std::string(e.what()).find("ComplexFloat") != std::string::npos);
  }
  CATCH_CHECK_THROWS_AS(labelrep::resolve_class_names("0"), labelrep::Error);
}
