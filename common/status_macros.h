#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns from the enclosing function when `expr` (an absl::Status) fails.
#define NB_RETURN_IF_ERROR(expr)                  \
  do {                                            \
    ::absl::Status nb_status_ = (expr);           \
    if (!nb_status_.ok()) return nb_status_;      \
  } while (0)

#define NB_STATUS_MACROS_CONCAT_INNER(x, y) x##y
#define NB_STATUS_MACROS_CONCAT(x, y) NB_STATUS_MACROS_CONCAT_INNER(x, y)

// `NB_ASSIGN_OR_RETURN(T value, StatusOrExpr());` declares (or assigns) the
// value, or returns the error status from the enclosing function.
#define NB_ASSIGN_OR_RETURN(lhs, expr) \
  NB_ASSIGN_OR_RETURN_IMPL(NB_STATUS_MACROS_CONCAT(nb_statusor_, __LINE__), lhs, expr)

#define NB_ASSIGN_OR_RETURN_IMPL(statusor, lhs, expr) \
  auto statusor = (expr);                             \
  if (!statusor.ok()) return statusor.status();       \
  lhs = std::move(statusor).value()
