# frozen_string_literal: true

require "minitest/autorun"
require "json"
require "open3"
require "rbconfig"
require "tmpdir"

# The whole corpus through the Ruby binding, run by the one interpreter (cra-conformance,
# conformance/runner) with conformance_driver.rb; its --self-test first proves that driver and
# runner fail on the deliberately wrong corpus.
class TestConformance < Minitest::Test
  REPO = File.expand_path("../../..", __dir__)
  RUNNER = ENV.fetch("CRA_CONFORMANCE", File.join(REPO, "target/debug/cra-conformance"))
  RUBY = [RbConfig.ruby, "-I", File.expand_path("../lib", __dir__)].freeze

  def run_corpus(*options, driver)
    assert File.exist?(RUNNER), "#{RUNNER} is missing: build it with `make build-conformance`"
    Open3.capture2e(RUNNER, "--binding", "ruby", *options, "--", *RUBY, driver)
  end

  def test_corpus_passes_and_the_driver_can_fail
    report, status = run_corpus("--self-test", File.join(__dir__, "conformance_driver.rb"))
    total = JSON.parse(File.read(File.join(REPO, "conformance/manifest.json")))["total"]
    assert_includes report, "the deliberately wrong corpus fails as designed"
    assert_includes report, "ran #{total} of #{total} cases"
    assert status.success?, report.lines.reject { |l| l.start_with?("ok ") }.join
  end

  def test_a_driver_that_answers_nonsense_fails_the_run
    Dir.mktmpdir do |dir|
      bad = File.join(dir, "bad.rb")
      File.write(bad, "$stdout.sync = true\n$stdin.each_line { puts '{\"ok\": \"{}\"}' }\n")
      report, status = run_corpus(bad)
      refute status.success?, report[-2000..]
      refute_includes report, " 0 failed"
    end
  end
end
