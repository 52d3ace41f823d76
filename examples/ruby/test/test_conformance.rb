# frozen_string_literal: true

require "minitest/autorun"
require "fileutils"
require "tmpdir"
require_relative "conformance_runner"

# The whole corpus through the Ruby binding, and proof that the runner can fail.
class TestConformance < Minitest::Test
  ROOT = File.expand_path("../../../conformance", __dir__)
  WRONG = File.join(ROOT, "runner/tests/fixtures/wrong")

  def test_corpus
    report = ConformanceRunner.run(ROOT, ConformanceRunner.load_xfail(ROOT, "ruby"))
    puts report.render("ruby")
    manifest_total = JSON.parse(File.read(File.join(ROOT, "manifest.json")))["total"]
    assert_equal manifest_total, report.cases.size, "ran a different number of cases than the manifest says"
    assert report.ok?, "the corpus failed through the Ruby binding (#{report.failed} failed); see the lines above"
  end

  def test_wrong_corpus_fails
    # The fixture ships one expected-failure list, written for the core runner: the corpus's own.
    xfail = ConformanceRunner.load_xfail(WRONG, "core")
    assert_equal 1, xfail.size
    report = ConformanceRunner.run(WRONG, xfail)
    got = report.cases.map { |c| [c.id, c.kind] }
    assert_equal [["selftest/right", :pass], ["selftest/wrong-decision", :fail],
                  ["selftest/wrong-error-code", :fail], ["selftest/xpass", :xpass]], got
    assert_includes report.cases[1].detail, "/decision/type"
    assert_includes report.cases[2].detail, "INVALID_REQUEST"
    refute report.ok?
    assert report.render("ruby").end_with?("1 passed, 3 failed\n"), report.render("ruby")
  end

  def test_manifest_drift_and_unknown_xfail_fail
    Dir.mktmpdir do |dir|
      FileUtils.mkdir_p(File.join(dir, "cases"))
      FileUtils.cp(File.join(WRONG, "cases/deliberately-wrong.json"), File.join(dir, "cases/a.json"))
      File.write(File.join(dir, "manifest.json"), '{"total": 5, "files": {"cases/a.json": 5}}')
      report = ConformanceRunner.run(dir, { "no/such-case" => "x" })
      refute report.ok?
      assert_equal 4, report.cases.size
      assert(report.errors.any? { |e| e.include?("has 4 cases; manifest.json says 5") }, report.errors.inspect)
      assert(report.errors.any? { |e| e.include?("unknown case no/such-case") }, report.errors.inspect)
    end
  end

  def test_matching_rules
    r = ConformanceRunner
    assert_nil r.mismatch({ "a" => 1 }, { "a" => 1, "b" => 2 })
    assert_equal "/a", r.mismatch({ "a" => 1 }, { "a" => 2 })[0]
    assert_equal " (length)", r.mismatch([1, 2], [1, 2, 3])[0]
    assert_equal "/a~1b/c~0", r.mismatch({ "a/b" => { "c~" => 1 } }, { "a/b" => { "c~" => 2 } })[0]
    assert_nil r.mismatch(1.0, 1)
    refute_nil r.mismatch("1", 1)
    assert r.equal?({ "a" => [1, "x"] }, { "a" => [1, "x"] })
    refute r.equal?(1, 1.0)
    refute r.equal?({ "a" => 1 }, { "a" => 1, "b" => nil })
    assert_equal '{"a":"<&>","b":1.5}', r.text({ "b" => 1.5, "a" => "<&>" })
  end

  def test_tamper
    r = ConformanceRunner
    t = "a\nb\nc\n"
    {
      nil => "a\nb\nc\n", [{ "swap" => [0, 2] }] => "c\nb\na\n", [{ "delete" => 1 }] => "a\nc\n",
      [{ "duplicate" => 0 }] => "a\na\nb\nc\n", [{ "replace" => { "line" => 1, "find" => "b", "with" => "B" } }] => "a\nB\nc\n",
      [{ "truncate_last_line" => 0 }] => "a\nb\nc", [{ "truncate_last_line" => 1 }, { "delete" => 0 }] => "a\nb\n",
      [{ "delete" => 0 }, { "delete" => 0 }, { "delete" => 0 }] => ""
    }.each { |ops, want| assert_equal want, r.tamper(t, ops), ops.inspect }
    [[{ "delete" => 3 }], [{ "swap" => [0, 9] }], [{ "replace" => { "line" => 0, "find" => "z", "with" => "" } }],
     [{ "explode" => 1 }], [{ "delete" => -1 }]].each do |ops|
      assert_raises(ConformanceRunner::CaseProblem, ops.inspect) { r.tamper(t, ops) }
    end
    assert_equal ["x", "y\r"], r.rust_lines("x\r\ny\r")
    summary = r.trace_summary(%({"event_type":"a","session_id":"s","event_hash":"h1"}\nnot json\n5\n) +
                              %({"event_type":"b","session_id":"s","event_hash":"h2"}\n))
    assert_equal({ "count" => 3, "event_types" => ["a", nil, "b"], "heads" => { "s" => "h2" } }, summary)
  end
end
