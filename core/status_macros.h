// Early-return helpers for absl::Status / absl::StatusOr (Abseil has none).
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define HERALD_STATUS_CONCAT_INNER_(a, b) a##b
#define HERALD_STATUS_CONCAT_(a, b) HERALD_STATUS_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function when `expr` is not OK.
#define HERALD_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::absl::Status herald_status_ = (expr);          \
    if (!herald_status_.ok()) return herald_status_; \
  } while (0)

// `lhs = value of expr` or returns its status from the enclosing function.
#define HERALD_ASSIGN_OR_RETURN(lhs, expr) \
  HERALD_ASSIGN_OR_RETURN_IMPL_(HERALD_STATUS_CONCAT_(herald_statusor_, __LINE__), lhs, expr)

#define HERALD_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return statusor.status();            \
  lhs = std::move(statusor).value()
