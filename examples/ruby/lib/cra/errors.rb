# frozen_string_literal: true

module Cra
  # A failed call. `code` is the stable code name ("INVALID_REQUEST", ...): compare it, never the
  # message. `status` is its number in the C ABI, `pointer` the JSON pointer of the offending
  # input value (nil when the error is not about one; "" is the whole document), `details` every
  # problem of an INVALID_ATLAS error (hashes with "code", "message", "pointer").
  #
  # Subclasses group the codes by family, so `rescue Cra::ApprovalError` catches all three
  # approval codes.
  class Error < StandardError
    attr_reader :code, :status, :pointer, :details

    def initialize(message = nil, code: "INTERNAL", status: 190, pointer: nil, details: [])
      super(message || code)
      @code = code
      @status = status
      @pointer = pointer
      @details = details
    end

    # "CODE: message (at /pointer)".
    def to_s
      s = "#{code}: #{super}"
      pointer.nil? ? s : "#{s} (at #{pointer.inspect})"
    end
  end

  # One class per family of conformance/errors.json (the one error table, generated from
  # core/src/error.rs; docs/errors.md). CODES below maps every code to a class of its family;
  # test/test_errors.rb checks both against the table.

  # Family request: malformed or oversized input (request, configuration, parameters).
  class RequestError < Error; end
  # NULL_ARGUMENT, INVALID_UTF8: how libcra was called (request family).
  class CallError < RequestError; end
  # INVALID_PARAMETERS: execute parameters do not match the action's schema (request family;
  # an ActionError before the families were unified).
  class InvalidParametersError < RequestError; end
  # Family atlas: atlas validation and lookup.
  class AtlasError < Error; end
  # Family resolution: unknown or expired resolution.
  class ResolutionError < Error; end
  # Family action: governance refused the call for now (not allowed, rate limit, approval required).
  class ActionError < Error; end
  # Family approval: approvals.
  class ApprovalError < Error; end
  # Family execution: executions and their reports.
  class ExecutionError < Error; end
  # Family session: sessions.
  class SessionError < Error; end
  # Family trace: trace verification.
  class TraceError < Error; end
  # Family runtime: files, timeouts, closed or forked resolvers, locked trace files.
  class ResourceError < Error; end
  # 182: the resolver was closed.
  class ClosedError < ResourceError; end
  # Family internal: a bug in CRA.
  class InternalError < Error; end
  # 900: a panic inside CRA was caught; the handle is poisoned.
  class PanicError < InternalError; end
  # 3: the handle is unusable because an earlier call on it panicked (a CallError before the
  # families were unified).
  class PoisonedError < PanicError; end

  # The class of each family.
  FAMILIES = {
    "request" => RequestError,
    "atlas" => AtlasError,
    "resolution" => ResolutionError,
    "action" => ActionError,
    "approval" => ApprovalError,
    "execution" => ExecutionError,
    "session" => SessionError,
    "trace" => TraceError,
    "runtime" => ResourceError,
    "internal" => InternalError
  }.freeze

  # Every code of conformance/errors.json (engine codes and the C ABI's own statuses):
  # name => [status, class].
  CODES = {
    "NULL_ARGUMENT" => [1, CallError],
    "INVALID_UTF8" => [2, CallError],
    "POISONED" => [3, PoisonedError],
    "INVALID_REQUEST" => [100, RequestError],
    "INVALID_CONFIG" => [101, RequestError],
    "LIMIT_EXCEEDED" => [102, RequestError],
    "INVALID_ATLAS" => [110, AtlasError],
    "ATLAS_NOT_FOUND" => [111, AtlasError],
    "ATLAS_ALREADY_LOADED" => [112, AtlasError],
    "ATLAS_CONFLICT" => [113, AtlasError],
    "RESOLUTION_NOT_FOUND" => [120, ResolutionError],
    "RESOLUTION_EXPIRED" => [121, ResolutionError],
    "ACTION_NOT_ALLOWED" => [130, ActionError],
    "INVALID_PARAMETERS" => [131, InvalidParametersError],
    "RATE_LIMIT_EXCEEDED" => [132, ActionError],
    "APPROVAL_REQUIRED" => [133, ActionError],
    "APPROVAL_NOT_FOUND" => [140, ApprovalError],
    "APPROVAL_EXPIRED" => [141, ApprovalError],
    "APPROVAL_ALREADY_DECIDED" => [142, ApprovalError],
    "APPROVAL_FORBIDDEN" => [143, ApprovalError],
    "EXECUTION_NOT_FOUND" => [150, ExecutionError],
    "EXECUTION_ALREADY_REPORTED" => [151, ExecutionError],
    "SESSION_NOT_FOUND" => [160, SessionError],
    "SESSION_ENDED" => [161, SessionError],
    "TRACE_CHAIN_INVALID" => [170, TraceError],
    "IO_ERROR" => [180, ResourceError],
    "TIMEOUT" => [181, ResourceError],
    "CLOSED" => [182, ClosedError],
    "RESOLVER_FORKED" => [183, ResourceError],
    "TRACE_FILE_LOCKED" => [184, ResourceError],
    "INTERNAL" => [190, InternalError],
    "PANIC" => [900, PanicError]
  }.freeze

  BY_STATUS = CODES.values.to_h.freeze
  private_constant :BY_STATUS

  class Error
    # The family of the error's code ("request", "atlas", ...), nil for Cra::Error itself.
    def family
      FAMILIES.find { |_, cls| is_a?(cls) }&.first
    end
  end

  # The exception class for a status value (InternalError for a value this version does not know).
  def self.error_class(status)
    BY_STATUS.fetch(status, InternalError)
  end
end
