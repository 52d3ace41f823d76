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

  # 1..99: how libcra was called (NULL argument, invalid UTF-8, poisoned handle).
  class CallError < Error; end
  # 100..109: malformed request or configuration.
  class RequestError < Error; end
  # 110..119: atlas validation and lookup.
  class AtlasError < Error; end
  # 120..129: unknown or expired resolution.
  class ResolutionError < Error; end
  # 130..139: the action may not run (not allowed, parameters, rate limit, approval required).
  class ActionError < Error; end
  # 140..149: approvals.
  class ApprovalError < Error; end
  # 150..159: executions and their reports.
  class ExecutionError < Error; end
  # 160..169: sessions.
  class SessionError < Error; end
  # 170..179: trace verification.
  class TraceError < Error; end
  # 180..189: files, timeouts, closed resolvers.
  class ResourceError < Error; end
  # 182: the resolver was closed.
  class ClosedError < ResourceError; end
  # 190..199: a bug in CRA.
  class InternalError < Error; end
  # 900: a panic inside CRA was caught; the handle is poisoned.
  class PanicError < InternalError; end

  # The exception class for a status value.
  def self.error_class(status)
    case status
    when 182 then ClosedError
    when 900 then PanicError
    when 1..99 then CallError
    when 100..109 then RequestError
    when 110..119 then AtlasError
    when 120..129 then ResolutionError
    when 130..139 then ActionError
    when 140..149 then ApprovalError
    when 150..159 then ExecutionError
    when 160..169 then SessionError
    when 170..179 then TraceError
    when 180..189 then ResourceError
    else InternalError
    end
  end
end
