#pragma once
// The exception boundary of the public API (internal header).
//
// Public functions that call into libtorch end in a function-try-block:
//
//   torch::Tensor label_loss(...) try {
//     ...                                   // labelrep's own checks first: InvalidArgument naming the argument
//   } catch (...) {
//     detail::rethrow_as_labelrep_error("label_loss");
//   }
//
// so that nothing but labelrep::Error subclasses leaves the library, whatever libtorch, the standard
// library or a third-party parser throws. Constructors use the same form (it also covers the member
// initialisers). The cost is zero on the path that does not throw. Exported only so that the tests can
// call it directly.

#include <string>

#include "labelrep/export.hpp"

namespace labelrep::detail {

/// Call only inside a catch handler. Rethrows the exception being handled: labelrep::Error unchanged;
/// c10::OutOfMemoryError and std::bad_alloc as OutOfMemory; other c10::Error as TorchError (the message
/// without libtorch's stack trace); any other std::exception or unknown object as InternalError. Every
/// translated message starts "labelrep: <where>: ".
[[noreturn]] LABELREP_API void rethrow_as_labelrep_error(const char* where);
/// The same with a composed place, e.g. "read_npy(<path>)", so that a translated error names the file.
[[noreturn]] LABELREP_API void rethrow_as_labelrep_error(const std::string& where);

}  // namespace labelrep::detail
