# frozen_string_literal: true

require "ffi"

module Cra
  # Raised at load time when libcra cannot be found or speaks another C ABI version.
  class LoadError < ::LoadError; end

  # The C ABI of libcra (ffi/include/cra.h): one attach_function per header function, nothing
  # else. Every other file goes through Cra::Native, which frees what it receives.
  module FFI
    extend ::FFI::Library

    # The C ABI version this binding was written against (CRA_ABI_VERSION in cra.h).
    ABI_VERSION = 1

    # Where libcra is: the CRA_LIB environment variable, else the workspace's release build
    # (target/release/libcra.so, built by `make build-ffi`).
    def self.library_path
      ENV.fetch("CRA_LIB") { File.expand_path("../../../../target/release/libcra.so", __dir__) }
    end

    begin
      ffi_lib library_path
    rescue ::LoadError => e
      raise Cra::LoadError, "cannot load libcra from #{library_path} (run `make build-ffi`, or set CRA_LIB): #{e.message}"
    end

    # `CraBuffer`: bytes owned by the caller until cra_buffer_free.
    class Buffer < ::FFI::Struct
      layout :ptr, :pointer, :len, :size_t, :cap, :size_t
    end

    typedef :uint32, :status
    typedef :pointer, :resolver   # const CraResolver *
    typedef :pointer, :error      # CraError *
    typedef :pointer, :error_out  # CraError **
    typedef :pointer, :bytes      # const uint8_t *

    # Calls that may take a while release the GVL (blocking: true), so other Ruby threads run
    # meanwhile; the resolver is safe to share across threads.
    JSON_IN = [:resolver, :bytes, :size_t, Buffer.by_ref, :error_out].freeze

    attach_function :cra_abi_version, [], :uint32
    attach_function :cra_version, [], :string
    attach_function :cra_buffer_free, [Buffer.by_ref], :void
    attach_function :cra_error_code, [:error], :status
    attach_function :cra_error_code_name, [:error], :string
    attach_function :cra_error_message, [:error], :string
    attach_function :cra_error_pointer, [:error], :string
    attach_function :cra_error_json, [:error, Buffer.by_ref], :status
    attach_function :cra_error_free, [:error], :void
    attach_function :cra_resolver_new, [:bytes, :size_t, :pointer, :error_out], :status, blocking: true
    attach_function :cra_resolver_free, [:resolver], :void, blocking: true
    attach_function :cra_resolver_load_atlas, JSON_IN, :status, blocking: true
    attach_function :cra_resolver_load_atlas_dir, JSON_IN, :status, blocking: true
    attach_function :cra_resolver_unload_atlas, JSON_IN, :status, blocking: true
    attach_function :cra_resolver_resolve, JSON_IN, :status, blocking: true
    attach_function :cra_resolver_execute, JSON_IN, :status, blocking: true
    attach_function :cra_resolver_report, JSON_IN, :status, blocking: true
    attach_function :cra_resolver_approve, JSON_IN, :status, blocking: true
    attach_function :cra_resolver_list_approvals, JSON_IN, :status, blocking: true
    attach_function :cra_resolver_load_shadow, JSON_IN, :status, blocking: true
    attach_function :cra_resolver_unload_shadow, JSON_IN, :status, blocking: true
    attach_function :cra_resolver_reject, JSON_IN, :status, blocking: true
    attach_function :cra_resolver_end_session, JSON_IN, :status, blocking: true
    attach_function :cra_resolver_explain, [:resolver, :bytes, :size_t, :bytes, :size_t, Buffer.by_ref, :error_out], :status, blocking: true
    attach_function :cra_resolver_check, [:resolver, :bytes, :size_t, :bytes, :size_t, :pointer, :error_out], :status
    attach_function :cra_resolver_flush, [:resolver, :uint64, :error_out], :status, blocking: true
    attach_function :cra_resolver_drain_trace, [:resolver, Buffer.by_ref, :error_out], :status, blocking: true
    attach_function :cra_resolver_stats, [:resolver, Buffer.by_ref, :error_out], :status
    attach_function :cra_resolver_advance_clock, [:resolver, :int64, :error_out], :status
    attach_function :cra_resolver_close, [:resolver, :error_out], :status, blocking: true
    attach_function :cra_status_name, [:uint32], :string
    attach_function :cra_trace_verify, [:bytes, :size_t, Buffer.by_ref, :error_out], :status, blocking: true
    attach_function :cra_trace_verify_file, [:bytes, :size_t, Buffer.by_ref, :error_out], :status, blocking: true
    attach_function :cra_trace_replay, [:bytes, :size_t, :bytes, :size_t, Buffer.by_ref, :error_out], :status, blocking: true
    begin
      # Only in libcra built with the `testing` feature (cra.h guards it with CRA_TESTING).
      attach_function :cra_testing_panic, [:resolver, :error_out], :status
    rescue ::FFI::NotFoundError
      nil
    end

    loaded = cra_abi_version
    if loaded != ABI_VERSION
      raise Cra::LoadError, "libcra #{cra_version} at #{library_path} has C ABI version #{loaded}, " \
                            "but this binding needs #{ABI_VERSION}: rebuild libcra (make build-ffi) or use a matching binding"
    end
  end
end
