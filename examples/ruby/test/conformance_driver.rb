# frozen_string_literal: true

# The Ruby driver of the conformance corpus: the one interpreter (cra-conformance, in
# conformance/runner) sends operations as JSON lines on stdin; this performs each through the
# gem's public API and answers on stdout (protocol: conformance/runner/src/process_driver.rs,
# docs/bindings.md). Run by test_conformance.rb:
#   cra-conformance --binding ruby --self-test -- ruby -Ilib test/conformance_driver.rb
require "json"
require "cra"

# One resolver at a time, as the runner asks.
class ConformanceDriver
  def initialize
    @r = nil
  end

  # A JSON argument as the value (a Hash, as users pass it); a text one verbatim.
  def self.arg(a) = a.key?("json") ? a["json"] : a["text"]

  def res
    @r || raise(Cra::InternalError.new("no resolver (create first)", code: "INTERNAL"))
  end

  def close
    @r&.close
    @r = nil
  end

  # Operations whose method has the operation's name and takes one argument (answer text with raw:).
  ONE_ARG = %w[load_atlas load_shadow load_atlas_dir unload_atlas unload_shadow resolve execute report
               approve reject end_session approvals].freeze

  # The answer text of one operation (nil: no output).
  def call(op, a)
    case op
    when "create" then close.then { @r = Cra::Resolver.new(a[0]) } && nil
    when "close" then close
    when *ONE_ARG then res.public_send(op, a[0], raw: true)
    when "explain" then res.explain(a[0], a[1], raw: true)
    when "check" then JSON.generate(res.check(a[0], a[1]).to_s)
    when "advance_clock" then res.advance_clock_micros(Integer(a[0], 10)) && nil
    when "flush" then res.flush(timeout: 10.0) && nil
    when "stats" then res.stats(raw: true)
    when "drain_trace" then res.drain_trace
    when "verify_trace" then Cra.verify_trace(a[0], raw: true)
    when "replay" then Cra.replay(a[0], a[1], raw: true)
    else raise ArgumentError, "unknown op #{op.inspect}"
    end
  end

  def answer(line)
    req = JSON.parse(line)
    out = call(req["op"], (req["args"] || []).map { |x| self.class.arg(x) })
    { "ok" => out.is_a?(String) ? out : nil }
  rescue Cra::Error => e
    { "error" => { "code" => e.code, "pointer" => e.pointer, "message" => e.message } }
  rescue StandardError => e
    { "error" => { "code" => "DRIVER", "pointer" => nil, "message" => "#{e.class}: #{e.message}" } }
  end
end

if $PROGRAM_NAME == __FILE__
  driver = ConformanceDriver.new
  $stdout.sync = true
  $stdin.each_line { |line| $stdout.write(JSON.generate(driver.answer(line)), "\n") }
  driver.close
end
