# frozen_string_literal: true

# CRA for Ruby: the in-process governance engine for AI agents, over libcra's C ABI.
#
#   require "cra"
#   Cra::Resolver.open do |r|
#     r.load_atlas_dir("examples/atlases/customer-support")
#     resolution = r.resolve(requester: {agent_id: "bot", session_id: "s1"}, task: {goal: "..."})
#   end
#
# libcra is found through CRA_LIB, else the workspace's target/release/libcra.so; loading
# checks its ABI version and raises Cra::LoadError on a mismatch.
require_relative "cra/errors"
require_relative "cra/ffi"
require_relative "cra/native"
require_relative "cra/resolver"

module Cra
  module_function

  # The loaded libcra's version ("0.1.0").
  def version = Cra::FFI.cra_version

  # The loaded libcra's C ABI version (checked at load against Cra::FFI::ABI_VERSION).
  def abi_version = Cra::FFI.cra_abi_version

  # Verifies JSONL trace text; answers the report ({"ok", "events", "sessions", "errors"}).
  # A broken chain is a report with "ok" => false, not an exception.
  def verify_trace(trace, raw: false)
    mem, len = Native.input(trace)
    text = Native.call_buffer(:cra_trace_verify, mem, len)
    raw ? text : JSON.parse(text)
  end

  # Verifies a JSONL trace file (streamed). Raises Cra::ResourceError (IO_ERROR).
  def verify_trace_file(path, raw: false)
    mem, len = Native.input(path.to_s)
    text = Native.call_buffer(:cra_trace_verify_file, mem, len)
    raw ? text : JSON.parse(text)
  end

  # Replays the resolve requests of a JSONL trace against other atlases (an Array of atlas
  # documents, or its JSON text); answers the replay report.
  def replay(trace, atlases, raw: false)
    tmem, tlen = Native.input(trace)
    amem, alen = Native.input(Native.json_input(atlases))
    text = Native.call_buffer(:cra_trace_replay, tmem, tlen, amem, alen)
    raw ? text : JSON.parse(text)
  end
end
