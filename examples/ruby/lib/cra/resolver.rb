# frozen_string_literal: true

require "json"

module Cra
  # The resolver handle: an FFI::AutoPointer whose release frees it with cra_resolver_free, so a
  # resolver that is never closed is still freed when Ruby collects it.
  class ResolverHandle < ::FFI::AutoPointer
    def self.release(ptr)
      Cra::FFI.cra_resolver_free(ptr)
    end
  end

  # A CRA resolver: loaded atlases, sessions, resolutions, approvals, rate limits and the trace
  # collector.
  #
  # Requests may be Strings (JSON text, sent as is) or Hashes/Arrays (encoded with JSON).
  # Answers are parsed into Hashes; pass `raw: true` for the JSON text instead.
  #
  # Threading: one resolver may be used from many threads at once (libcra synchronizes it, and
  # the calls release the GVL). #close waits for the calls in flight; later calls raise
  # Cra::ClosedError.
  class Resolver
    VERDICTS = %i[allowed denied pending_approval rate_limited no_resolution].freeze

    # Creates a resolver from configuration (a Hash or JSON text; nil or {} mean defaults).
    # With a block, yields it and closes it afterwards, answering the block's value.
    # Raises Cra::RequestError (INVALID_CONFIG), Cra::ResourceError (IO_ERROR).
    def self.open(config = nil)
      resolver = new(config)
      return resolver unless block_given?

      begin
        yield resolver
      ensure
        resolver.close
      end
    end

    def initialize(config = nil)
      mem, len = Native.input(config.nil? ? "" : Native.json_input(config))
      out = ::FFI::MemoryPointer.new(:pointer)
      Native.call_status(:cra_resolver_new, mem, len, out)
      @handle = ResolverHandle.new(out.read_pointer)
      @lock = Mutex.new
      @idle = ConditionVariable.new
      @active = 0
      @closed = false
    end

    # Loads (or replaces) an atlas (Hash or JSON text); answers AtlasInfo.
    # Raises Cra::AtlasError (INVALID_ATLAS, with #details), Cra::RequestError.
    def load_atlas(atlas = nil, raw: false, **fields) = json_call(:cra_resolver_load_atlas, body(atlas, fields), raw)

    # Loads an atlas from a directory holding atlas.json; answers AtlasInfo.
    def load_atlas_dir(path, raw: false) = json_call(:cra_resolver_load_atlas_dir, path.to_s, raw)

    # Unloads an atlas by id; answers {"atlas_id", "unloaded" => true}. Raises Cra::AtlasError.
    def unload_atlas(atlas_id, raw: false) = json_call(:cra_resolver_unload_atlas, atlas_id.to_s, raw)

    # Resolves a CARP request; answers the resolution.
    def resolve(request = nil, raw: false, **fields) = json_call(:cra_resolver_resolve, body(request, fields), raw)

    # Authorizes one tool call; answers {"status" => "authorized" | "denied" | "pending_approval", ...}.
    # A denial is an answer, not an exception.
    def execute(request = nil, raw: false, **fields) = json_call(:cra_resolver_execute, body(request, fields), raw)

    # Reports a tool's outcome ({"execution_id", "result"} or {"execution_id", "error"}).
    def report(report = nil, raw: false, **fields) = json_call(:cra_resolver_report, body(report, fields), raw)

    # Approves a pending approval ({"approval_id", "approver"?, "reason"?}).
    def approve(decision = nil, raw: false, **fields) = json_call(:cra_resolver_approve, body(decision, fields), raw)

    # Loads a candidate atlas (JSON text or Hash) as the shadow of the live atlas with the same
    # atlas_id: differences are recorded (policy.shadow_diff) and counted, the live one enforces.
    def load_shadow(atlas, raw: false) = json_call(:cra_resolver_load_shadow, Native.json_input(atlas), raw)

    # Unloads the shadow of an atlas.
    def unload_shadow(atlas_id, raw: false) = json_call(:cra_resolver_unload_shadow, atlas_id, raw)

    # Lists approvals ({"session_id"?, "status"?: [...]}; default every pending one), oldest
    # first, each with agent, action, parameters, policy and expiry.
    def approvals(filter = nil, raw: false, **fields) = json_call(:cra_resolver_list_approvals, body(filter, fields), raw)

    # Rejects a pending approval.
    def reject(decision = nil, raw: false, **fields) = json_call(:cra_resolver_reject, body(decision, fields), raw)

    # Ends a session ({"session_id", "reason"?}).
    def end_session(body = nil, raw: false, **fields) = json_call(:cra_resolver_end_session, body(body, fields), raw)

    # The fast path: may the session run the action now? Answers :allowed, :denied,
    # :pending_approval, :rate_limited or :no_resolution. Consumes and records nothing.
    # Why action_id gets its verdict for a resolve request: every policy of its atlas in ladder
    # order, each condition with what it saw, which policy decided. Records nothing.
    def explain(request, action_id, raw: false)
      text = with_handle do |h|
        qmem, qlen = Native.input(Native.json_input(request))
        amem, alen = Native.input(action_id)
        Native.call_buffer(:cra_resolver_explain, h, qmem, qlen, amem, alen)
      end
      raw ? text : JSON.parse(text)
    end

    def check(session_id, action_id)
      with_handle do |h|
        smem, slen = Native.input(session_id)
        amem, alen = Native.input(action_id)
        out = ::FFI::MemoryPointer.new(:uint32)
        Native.call_status(:cra_resolver_check, h, smem, slen, amem, alen, out)
        value = out.read_uint32
        VERDICTS.fetch(value) { raise InternalError.new("unknown verdict #{value}", code: "INTERNAL") }
      end
    end

    # Waits until every trace event recorded so far is in the sink. Raises Cra::ResourceError
    # (TIMEOUT, IO_ERROR).
    def flush(timeout: 10.0)
      with_handle { |h| Native.call_status(:cra_resolver_flush, h, [(timeout * 1000).round, 0].max) }
    end

    # The JSONL of the memory sink's events not drained yet (a String; each event drained once).
    def drain_trace
      with_handle { |h| Native.call_buffer(:cra_resolver_drain_trace, h) }
    end

    # Counters and sizes.
    def stats(raw: false)
      text = with_handle { |h| Native.call_buffer(:cra_resolver_stats, h) }
      raw ? text : JSON.parse(text)
    end

    # Moves a deterministic resolver's clock forward (seconds, rounded to microseconds).
    def advance_clock(seconds) = advance_clock_micros((seconds * 1_000_000).round)

    # Moves a deterministic resolver's clock forward by whole microseconds.
    def advance_clock_micros(micros)
      with_handle { |h| Native.call_status(:cra_resolver_advance_clock, h, Integer(micros)) }
    end

    # Flushes and closes the trace collector, then frees the resolver. Waits for calls in
    # flight; closing twice is a no-op. Raises the collector's error (the resolver is freed
    # anyway); closing a resolver poisoned by a panic just frees it.
    def close
      @lock.synchronize do
        return nil if @closed

        @closed = true
        @idle.wait(@lock) while @active.positive?
      end
      begin
        Native.call_status(:cra_resolver_close, @handle)
      rescue PoisonedError
        nil # a poisoned resolver is still freed; nothing to report
      ensure
        @handle.free
      end
    end

    # True once #close was called.
    def closed? = @lock.synchronize { @closed }

    private

    def json_call(function, input, raw)
      text = with_handle do |h|
        mem, len = Native.input(input)
        Native.call_buffer(function, h, mem, len)
      end
      raw ? text : JSON.parse(text)
    end

    def body(value, fields)
      Native.json_input(value.nil? ? fields : value)
    end

    def with_handle
      @lock.synchronize do
        raise ClosedError.new("the resolver is closed", code: "CLOSED", status: 182) if @closed

        @active += 1
      end
      begin
        yield @handle
      ensure
        @lock.synchronize do
          @active -= 1
          @idle.broadcast if @active.zero?
        end
      end
    end
  end
end
