# frozen_string_literal: true

require "minitest/autorun"
require "open3"
require "rbconfig"
require "cra"

# Unit tests of the Ruby binding: the API, errors by code, closing, threads, the library lookup.
class TestCra < Minitest::Test
  ATLAS_DIR = File.expand_path("../../atlases/customer-support", __dir__)
  LIB = File.expand_path("../lib", __dir__)

  def setup
    @r = Cra::Resolver.new({ deterministic: { seed: 1 } })
    @r.load_atlas_dir(ATLAS_DIR)
  end

  def teardown
    @r.close
  end

  def requester(session) = { agent_id: "support-bot", session_id: session }

  def resolve(session)
    @r.resolve(requester: requester(session), task: { goal: "Where is order ORD-1234? The customer wants a refund." })
  end

  def execute(session, resolution_id)
    @r.execute(requester: requester(session),
               execution: { resolution_id: resolution_id, action_id: "orders.lookup", parameters: { order_id: "ORD-1234" } })
  end

  def test_version_and_abi
    assert_equal Cra::FFI::ABI_VERSION, Cra.abi_version
    assert_match(/\A\d+\.\d+/, Cra.version)
  end

  def test_workflow
    res = resolve("s1")
    assert_equal "partial", res.dig("decision", "type")
    assert_equal :allowed, @r.check("s1", "orders.lookup")
    assert_equal :denied, @r.check("s1", "customers.delete_account")
    assert_equal :no_resolution, @r.check("nobody", "orders.lookup")
    answer = execute("s1", res["resolution_id"])
    assert_equal "authorized", answer["status"]
    report = { execution_id: answer["execution_id"], result: "ok" }
    assert_equal "executed", @r.report(report)["status"]
    e = assert_raises(Cra::ExecutionError) { @r.report(report) }
    assert_equal "EXECUTION_ALREADY_REPORTED", e.code
    assert_equal 151, e.status
    @r.end_session(session_id: "s1")
    assert_raises(Cra::SessionError) { resolve("s1") }
    @r.flush(timeout: 5)
    trace = @r.drain_trace
    assert_equal Encoding::UTF_8, trace.encoding
    verdict = Cra.verify_trace(trace)
    assert verdict["ok"], verdict.inspect
    assert_equal 1, verdict["sessions"]
    tampered = Cra.verify_trace(trace.sub("orders.lookup", "orders.lookuq"))
    refute tampered["ok"]
    assert_equal "", @r.drain_trace
    assert @r.stats.key?("resolves")
    assert_includes @r.resolve(resolve_text("s2"), raw: true), '"resolution_id"'
    assert_equal({ "atlas_id" => "com.example.customer-support", "unloaded" => true },
                 @r.unload_atlas("com.example.customer-support"))
  end

  def resolve_text(session)
    JSON.generate(requester: requester(session), task: { goal: "g" })
  end

  def test_errors_by_code_family
    e = assert_raises(Cra::RequestError) do
      @r.resolve('{"requester":{"agent_id":"a","session_id":"s"},"task":{"goal":"g","risk_tier":7}}')
    end
    assert_equal "INVALID_REQUEST", e.code
    refute_nil e.pointer
    assert e.message.start_with?("INVALID_REQUEST: ")
    e = assert_raises(Cra::AtlasError) { @r.unload_atlas("no.such.atlas") }
    assert_equal "ATLAS_NOT_FOUND", e.code
    assert_nil e.pointer
    e = assert_raises(Cra::AtlasError) do
      @r.load_atlas(atlas_version: "1.0", atlas_id: "x", version: "1", name: "x", description: "",
                    actions: [{ action_id: "a", name: "a", description: "" }, { action_id: "a", name: "a", description: "" }],
                    policies: [{ policy_id: "p", type: "nonsense" }])
    end
    assert_equal "INVALID_ATLAS", e.code
    refute_empty e.details
    assert(e.details.all? { |d| d.key?("code") && d.key?("message") })
    e = assert_raises(Cra::CallError) { @r.resolve("\xff\xfe".b) }
    assert_equal "INVALID_UTF8", e.code
    e = assert_raises(Cra::RequestError) { Cra::Resolver.new({ no_such_option: 1 }) }
    assert_equal "INVALID_CONFIG", e.code
    assert_raises(Cra::RequestError) { @r.advance_clock_micros(-1) }
    assert_nil @r.advance_clock(1.5)
    assert_raises(Cra::ResourceError) { Cra.verify_trace_file("/no/such/trace.jsonl") }
    assert_raises(Cra::RequestError) { Cra.replay("", "{}") }
    assert_kind_of Cra::Error, Cra::PanicError.new("x")
    assert_equal Cra::ApprovalError, Cra.error_class(142)
    assert_equal Cra::InternalError, Cra.error_class(4242)
  end

  def test_close
    r = Cra::Resolver.new
    assert_nil r.close
    assert_nil r.close
    assert r.closed?
    e = assert_raises(Cra::ClosedError) { r.check("s", "a") }
    assert_equal "CLOSED", e.code
    assert_equal(42, Cra::Resolver.open { |x| x.stats && 42 })
  end

  def test_unclosed_resolvers_are_released_by_gc
    # FFI::AutoPointer calls cra_resolver_free when Ruby collects the handle.
    20.times { Cra::Resolver.new.load_atlas_dir(ATLAS_DIR) }
    GC.start
    assert_equal :no_resolution, @r.check("s", "orders.lookup")
  end

  # Many threads on one resolver, drains competing for events, and a close racing with calls.
  def test_threads
    r = Cra::Resolver.new
    r.load_atlas_dir(ATLAS_DIR)
    lock = Mutex.new
    trace = +""
    threads = Array.new(8) do |w|
      Thread.new do
        session = "t-#{w}"
        20.times do |i|
          res = r.resolve(requester: requester(session), task: { goal: "order status" })
          raise "check" unless r.check(session, "orders.lookup") == :allowed

          r.execute(requester: requester(session),
                    execution: { resolution_id: res["resolution_id"], action_id: "orders.lookup",
                                 parameters: { order_id: "ORD-1234" } })
          lock.synchronize { trace << r.drain_trace } if (i % 5).zero?
        end
      end
    end
    threads.each(&:join)
    trace << r.drain_trace
    report = Cra.verify_trace(trace)
    assert report["ok"], report.inspect
    assert_equal 8, report["sessions"]

    callers = Array.new(4) do
      Thread.new do
        200.times { r.check("t-0", "orders.lookup") }
        :done
      rescue Cra::ClosedError
        :closed
      end
    end
    sleep 0.001
    r.close
    callers.each { |t| assert_includes %i[done closed], t.value }
  end

  def test_missing_library_fails_clearly
    env = { "CRA_LIB" => "/no/such/libcra.so" }
    _out, err, status = Open3.capture3(env, RbConfig.ruby, "-I", LIB, "-e", 'require "cra"')
    refute status.success?
    assert_includes err, "cannot load libcra from /no/such/libcra.so"
    assert_includes err, "Cra::LoadError"
  end
end

# A panic inside libcra becomes Cra::PanicError and poisons only its handle. Needs the testing
# build of libcra (made by `make test-c` at target/c/testing/libcra.so); skipped without it.
class TestPanicGuard < Minitest::Test
  TESTING_LIB = File.expand_path("../../../target/c/testing/libcra.so", __dir__)

  def test_panic_poisons_only_its_handle
    skip "no testing build of libcra at #{TESTING_LIB} (make test-c builds it)" unless File.exist?(TESTING_LIB)
    script = <<~RUBY
      require "cra"
      a = Cra::Resolver.new
      b = Cra::Resolver.new
      err = FFI::MemoryPointer.new(:pointer)
      a.send(:with_handle) { |h| Cra::Native.raise_for(Cra::FFI.cra_testing_panic(h, err), err.read_pointer) } rescue (puts $!.class)
      begin; a.stats; rescue Cra::Error => e; puts e.code; end
      puts b.stats.key?("resolves")
      a.close
      b.close
    RUBY
    out, err, status = Open3.capture3({ "CRA_LIB" => TESTING_LIB }, RbConfig.ruby, "-I", TestCra::LIB, "-e", script)
    assert status.success?, err
    assert_equal "Cra::PanicError\nPOISONED\ntrue\n", out
  end
end
