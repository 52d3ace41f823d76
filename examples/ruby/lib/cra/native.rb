# frozen_string_literal: true

require "json"

module Cra
  # The calling convention, in one place: borrowed inputs, owned output buffers copied and freed,
  # errors turned into exceptions and freed — always, in ensure blocks.
  module Native
    module_function

    # A native copy of a String's bytes for a (ptr, len) input, or [nil, 0] for an empty one.
    # The copy lives in a MemoryPointer that Ruby frees once it is unreachable.
    def input(str)
      bytes = str.to_s.b
      return [nil, 0] if bytes.empty?

      mem = ::FFI::MemoryPointer.new(:uint8, bytes.bytesize)
      mem.put_bytes(0, bytes)
      [mem, bytes.bytesize]
    end

    # Request bodies: a String is sent as is, anything else as JSON.
    def json_input(value)
      value.is_a?(String) ? value : JSON.generate(value)
    end

    # Calls a function taking a trailing (CraBuffer *out, CraError **err) pair and answers the
    # buffer's bytes as a UTF-8 String. `args` precede the pair.
    def call_buffer(function, *args)
      buf = Cra::FFI::Buffer.new
      err = ::FFI::MemoryPointer.new(:pointer)
      begin
        status = Cra::FFI.public_send(function, *args, buf, err)
        raise_for(status, err.read_pointer) unless status.zero?
        buf[:ptr].null? ? +"" : buf[:ptr].read_bytes(buf[:len]).force_encoding(Encoding::UTF_8)
      ensure
        Cra::FFI.cra_buffer_free(buf)
      end
    end

    # Calls a function whose last argument is CraError **err and which writes nothing else.
    def call_status(function, *args)
      err = ::FFI::MemoryPointer.new(:pointer)
      status = Cra::FFI.public_send(function, *args, err)
      raise_for(status, err.read_pointer) unless status.zero?
      nil
    end

    # Raises the exception for a failed call, freeing its CraError (which may be NULL).
    def raise_for(status, error_ptr)
      raise error_for(status, error_ptr)
    end

    # Builds the exception for a failed call and frees the CraError. The strings are copied
    # (FFI's :string return) before cra_error_free invalidates them.
    def error_for(status, error_ptr)
      if error_ptr.nil? || error_ptr.null?
        code = Cra::FFI.cra_status_name(status)
        return Cra.error_class(status).new(code, code: code, status: status)
      end
      begin
        status = Cra::FFI.cra_error_code(error_ptr)
        code = utf8(Cra::FFI.cra_error_code_name(error_ptr))
        message = utf8(Cra::FFI.cra_error_message(error_ptr))
        pointer = Cra::FFI.cra_error_pointer(error_ptr)
        Cra.error_class(status).new(message, code: code, status: status, pointer: pointer && utf8(pointer),
                                             details: status == 110 ? details(error_ptr) : [])
      ensure
        Cra::FFI.cra_error_free(error_ptr)
      end
    end

    def details(error_ptr)
      buf = Cra::FFI::Buffer.new
      begin
        return [] unless Cra::FFI.cra_error_json(error_ptr, buf).zero?

        JSON.parse(buf[:ptr].read_bytes(buf[:len]).force_encoding(Encoding::UTF_8)).fetch("details", [])
      ensure
        Cra::FFI.cra_buffer_free(buf)
      end
    end

    def utf8(str)
      str&.dup&.force_encoding(Encoding::UTF_8)
    end
  end
end
