# frozen_string_literal: true

require "json"
require "cra"

# Runs the shared conformance corpus (conformance/) through the Ruby binding, interpreting it
# exactly as the Rust runner does (conformance/runner/src/run.rs): manifest check, a fresh
# deterministic resolver per case, subset matching, tamper operations, drain summaries, and
# expected-failure lists where an unexpected pass fails.
module ConformanceRunner
  Result = Struct.new(:id, :kind, :detail) # kind: :pass, :fail, :xfail, :xpass

  # A corpus run: per-case results, the manifest's total, corpus-level errors.
  class Report
    attr_reader :cases, :errors
    attr_accessor :expected_total

    def initialize
      @cases = []
      @errors = []
      @expected_total = 0
    end

    def count(kind) = cases.count { |c| c.kind == kind }

    # Failures, unexpected passes, corpus errors and cases the manifest promised but did not run.
    def failed = count(:fail) + count(:xpass) + errors.size + [expected_total - cases.size, 0].max

    def ok? = errors.empty? && cases.size == expected_total && cases.none? { |c| %i[fail xpass].include?(c.kind) }

    def render(binding)
      lines = errors.map { |e| "ERROR  #{e}" }
      cases.each do |c|
        lines << case c.kind
                 when :pass then "ok     #{c.id}"
                 when :fail then "FAIL   #{c.id}: #{c.detail}"
                 when :xfail then "xfail  #{c.id}: #{c.detail}"
                 else "XPASS  #{c.id}: listed as expected failure (#{c.detail}) but passed"
                 end
      end
      lines << "conformance[#{binding}]: ran #{cases.size} of #{expected_total} cases; " \
               "#{count(:xfail)} expected failures, #{count(:xpass)} unexpected passes"
      lines << "#{count(:pass)} passed, #{failed} failed"
      "#{lines.join("\n")}\n"
    end
  end

  # A step's problem with the case itself (unknown op, missing fixture, impossible tamper).
  class CaseProblem < StandardError; end

  module_function

  # xfail/<binding>.json ({"case-id": "reason"}); an absent file means none.
  def load_xfail(root, binding)
    path = File.join(root, "xfail", "#{binding}.json")
    File.exist?(path) ? JSON.parse(File.read(path)) : {}
  end

  def case_files(dir)
    return [] unless File.directory?(dir)

    Dir.children(dir).sort.flat_map do |name|
      p = File.join(dir, name)
      if File.directory?(p) then case_files(p)
      elsif File.extname(p) == ".json" then [p]
      else []
      end
    end
  end

  def run(root, xfail = {})
    report = Report.new
    begin
      manifest = JSON.parse(File.read(File.join(root, "manifest.json")))
    rescue StandardError => e
      report.errors << "cannot read manifest.json: #{e.message}"
      return report
    end
    report.expected_total = u64(get(manifest, "total")) || 0
    listed = (get(manifest, "files").is_a?(Hash) ? manifest["files"] : {}).transform_values { |v| u64(v) || 0 }
    if listed.values.sum != report.expected_total
      report.errors << "manifest total #{report.expected_total} is not the sum of its per-file counts"
    end
    files = case_files(File.join(root, "cases"))
    rel = ->(p) { p.delete_prefix("#{root}/") }
    seen = {}
    files.each do |file|
      doc = begin
        JSON.parse(File.read(file))
      rescue StandardError => e
        report.errors << "#{rel.(file)}: #{e.message}"
        next
      end
      cases = get(doc, "cases").is_a?(Array) ? doc["cases"] : []
      n = listed[rel.(file)]
      if n.nil? then report.errors << "#{rel.(file)} is not in manifest.json"
      elsif n != cases.size then report.errors << "#{rel.(file)} has #{cases.size} cases; manifest.json says #{n}"
      end
      fixtures = get(doc, "atlases").is_a?(Hash) ? doc["atlases"] : {}
      cases.each do |c|
        id = get(c, "id").is_a?(String) ? c["id"] : "<no id>"
        report.errors << "duplicate case id #{id}" if seen[id]
        seen[id] = true
        failure = run_case(c, fixtures, root)
        reason = xfail[id]
        report.cases << if failure.nil? then Result.new(id, reason ? :xpass : :pass, reason)
                        else Result.new(id, reason ? :xfail : :fail, reason || failure)
                        end
      end
    end
    listed.each_key do |f|
      report.errors << "manifest.json lists #{f}, which does not exist" unless files.any? { |p| rel.(p) == f }
    end
    xfail.each_key { |id| report.errors << "expected-failure list names unknown case #{id}" unless seen[id] }
    report
  end

  # --- JSON values as serde_json sees them -----------------------------------------------------

  def get(value, key) = value.is_a?(Hash) ? value[key] : nil

  # Value::as_u64: non-negative integers only.
  def u64(v) = v.is_a?(Integer) && v >= 0 && v < 2**64 ? v : nil

  # serde_json keeps integers in u64/i64 and everything else as f64.
  def float_like?(v) = v.is_a?(Float) || (v.is_a?(Integer) && (v >= 2**64 || v < -2**63))

  # Serialization as serde_json's to_vec of a Value: compact, keys sorted.
  def text(v) = JSON.generate(sorted(v))

  def sorted(v)
    case v
    when Hash then v.keys.sort.to_h { |k| [k, sorted(v[k])] }
    when Array then v.map { |x| sorted(x) }
    else v
    end
  end

  # serde_json Value equality (expect_exact): 1 and 1.0 differ.
  def equal?(a, b)
    case a
    when Hash then b.is_a?(Hash) && a.size == b.size && a.all? { |k, v| b.key?(k) && equal?(v, b[k]) }
    when Array then b.is_a?(Array) && a.size == b.size && a.each_index.all? { |i| equal?(a[i], b[i]) }
    when Numeric
      return false unless b.is_a?(Numeric) && float_like?(a) == float_like?(b)

      float_like?(a) ? a.to_f == b.to_f : a == b
    else a.instance_of?(b.class) && a == b
    end
  end

  # The subset rule (runner/src/matching.rs): [pointer, expected, actual] of the first mismatch.
  def mismatch(expected, actual, path = "")
    if expected.is_a?(Hash) && actual.is_a?(Hash)
      expected.keys.sort.each do |k|
        p = "#{path}/#{k.gsub('~', '~0').gsub('/', '~1')}"
        return [p, expected[k], "<absent>"] unless actual.key?(k)

        m = mismatch(expected[k], actual[k], p)
        return m if m
      end
      return nil
    end
    if expected.is_a?(Array) && actual.is_a?(Array)
      return ["#{path} (length)", expected.size, actual.size] if expected.size != actual.size

      expected.each_index do |i|
        m = mismatch(expected[i], actual[i], "#{path}/#{i}")
        return m if m
      end
      return nil
    end
    return nil if expected.is_a?(Numeric) && actual.is_a?(Numeric) && expected.to_f == actual.to_f
    return nil if equal?(expected, actual)

    [path, expected, actual]
  end

  # --- One case ---------------------------------------------------------------------------------

  def resolve_atlas(v, fixtures)
    case v
    when String then fixtures.fetch(v) { raise CaseProblem, "no atlas fixture #{v.inspect}" }
    when Hash then v
    else raise CaseProblem, "atlas must be a fixture name or an object, not #{JSON.generate(v)}"
    end
  end

  def body(step, key)
    t = get(step, "#{key}_text")
    t.is_a?(String) ? t : text(get(step, key))
  end

  def str(step, key) = get(step, key).is_a?(String) ? step[key] : ""

  # Runs one case on a fresh resolver: nil when it passes, else its first failure.
  def run_case(kase, fixtures, root)
    config = { "deterministic" => { "seed" => 1 } }
    config.merge!(kase["config"]) if get(kase, "config").is_a?(Hash)
    begin
      resolver = Cra::Resolver.new(text(config))
    rescue Cra::Error => e
      return "create: #{e.code} #{bare(e)}"
    end
    begin
      drained = +"".b
      (get(kase, "steps").is_a?(Array) ? kase["steps"] : []).each_with_index do |step, i|
        op = str(step, "op")
        problem = run_step(resolver, op, step, fixtures, root, drained)
        return "step #{i} (#{op}): #{problem}" if problem
      end
      nil
    ensure
      resolver.close
    end
  end

  def run_step(r, op, step, fixtures, root, drained)
    begin
      out = call(r, op, step, fixtures, root, drained)
      error = nil
    rescue CaseProblem => e
      return e.message
    rescue Cra::Error => e
      error = e
    end
    if step.is_a?(Hash) && step.key?("expect_error")
      want = step["expect_error"]
      return "expected error #{JSON.generate(get(want, 'code'))} but the call succeeded: #{out}" unless error
      unless get(want, "code").is_a?(String) && want["code"] == error.code
        return "expected error #{JSON.generate(get(want, 'code'))} but got #{error.code} (#{bare(error)})"
      end

      if want.key?("pointer")
        wp = want["pointer"]
        wp = nil unless wp.is_a?(String)
        return "expected pointer #{JSON.generate(want['pointer'])} but got #{error.pointer.inspect} (#{bare(error)})" if wp != error.pointer
      end
      return nil
    end
    return "unexpected error #{error.code} at #{error.pointer.inspect}: #{bare(error)}" if error

    if op == "drain_trace"
      drained << out.b
      actual = trace_summary(out)
    else
      begin
        actual = JSON.parse(out)
      rescue JSON::ParserError => e
        return "answer is not JSON: #{e.message}"
      end
    end
    if step.key?("expect") && (m = mismatch(step["expect"], actual))
      return "at #{m[0]}: expected #{JSON.generate(m[1])}, got #{JSON.generate(m[2])}"
    end
    if step.key?("expect_exact") && !equal?(step["expect_exact"], actual)
      return "expected exactly #{JSON.generate(step['expect_exact'])}, got #{JSON.generate(actual)}"
    end

    nil
  end

  # The message without the code prefix Cra::Error#to_s adds.
  def bare(error) = error.message.sub(/\A#{error.code}: /, "")

  # Runs one operation; answers JSON text (JSONL for drain_trace).
  def call(r, op, step, fixtures, root, drained)
    case op
    when "load_atlas"
      t = get(step, "atlas_text")
      r.load_atlas(t.is_a?(String) ? t : text(resolve_atlas(get(step, "atlas"), fixtures)), raw: true)
    when "load_atlas_dir"
      p = str(step, "path")
      r.load_atlas_dir(p.start_with?("/") ? p : File.join(root, p), raw: true)
    when "unload_atlas" then r.unload_atlas(str(step, "atlas_id"), raw: true)
    when "resolve" then r.resolve(body(step, "request"), raw: true)
    when "execute" then r.execute(body(step, "request"), raw: true)
    when "report" then r.report(body(step, "report"), raw: true)
    when "approve" then r.approve(body(step, "decision"), raw: true)
    when "reject" then r.reject(body(step, "decision"), raw: true)
    when "end_session" then r.end_session(body(step, "body"), raw: true)
    when "load_shadow"
      t = get(step, "atlas_text")
      r.load_shadow(t.is_a?(String) ? t : text(resolve_atlas(get(step, "atlas"), fixtures)), raw: true)
    when "unload_shadow" then r.unload_shadow(str(step, "atlas_id"), raw: true)
    when "approvals" then r.approvals(step.key?("filter") || step.key?("filter_text") ? body(step, "filter") : "{}", raw: true)
    when "explain" then r.explain(body(step, "request"), str(step, "action_id"), raw: true)
    when "check" then JSON.generate(r.check(str(step, "session_id"), str(step, "action_id")).to_s)
    when "advance_clock"
      secs = get(step, "seconds").is_a?(Numeric) ? step["seconds"].to_f : 0.0
      r.advance_clock_micros((secs * 1e6).round)
      "null"
    when "flush"
      r.flush(timeout: 10.0)
      "null"
    when "stats" then r.stats(raw: true)
    when "drain_trace" then r.drain_trace
    when "verify_trace", "replay"
      base = get(step, "trace_text").is_a?(String) ? step["trace_text"] : drained
      trace = tamper(base, get(step, "tamper"))
      return Cra.verify_trace(trace, raw: true) if op == "verify_trace"

      atlases = (get(step, "atlases").is_a?(Array) ? step["atlases"] : []).map { |a| resolve_atlas(a, fixtures) }
      Cra.replay(trace, text(atlases), raw: true)
    else raise CaseProblem, "unknown op #{op.inspect}"
    end
  end

  # Rust's str::lines: split on "\n", dropping one "\r" before it; the final ending is optional.
  def rust_lines(s)
    s.split("\n", -1).tap { |a| a.pop if a.last == "" }.each_with_index.map do |l, i|
      i < s.count("\n") ? l.delete_suffix("\r") : l
    end
  end

  # The corpus's tamper operations on JSONL (line-based, 0-based indices).
  def tamper(trace, ops)
    lines = rust_lines(trace.dup.force_encoding(Encoding::UTF_8).scrub("\uFFFD"))
    (ops.is_a?(Array) ? ops : []).each do |op|
      idx = lambda do |k|
        u64(get(op, k)) || raise(CaseProblem, "tamper op #{JSON.generate(op)} needs #{k}")
      end
      if op.is_a?(Hash) && op.key?("swap")
        a = u64(get(op, "swap").is_a?(Array) ? op["swap"][0] : nil) || 0
        b = u64(get(op, "swap").is_a?(Array) ? op["swap"][1] : nil) || 0
        raise CaseProblem, "swap #{a} #{b} out of range" if a >= lines.size || b >= lines.size

        lines[a], lines[b] = lines[b], lines[a]
      elsif op.is_a?(Hash) && op.key?("delete")
        i = idx.("delete")
        raise CaseProblem, "delete #{i} out of range" if i >= lines.size

        lines.delete_at(i)
      elsif op.is_a?(Hash) && op.key?("duplicate")
        i = idx.("duplicate")
        raise CaseProblem, "duplicate #{i} out of range" if i >= lines.size

        lines.insert(i + 1, lines[i])
      elsif op.is_a?(Hash) && op.key?("replace")
        rp = op["replace"]
        i = u64(get(rp, "line")) || 0
        find = get(rp, "find").is_a?(String) ? rp["find"] : ""
        with = get(rp, "with").is_a?(String) ? rp["with"] : ""
        raise CaseProblem, "replace line #{i} out of range" if i >= lines.size
        raise CaseProblem, "replace: line #{i} does not contain #{find.inspect}" unless lines[i].include?(find)

        lines[i] = lines[i].sub(find) { with }
      elsif op.is_a?(Hash) && op.key?("truncate_last_line")
        n = idx.("truncate_last_line")
        out = "#{lines.join("\n")}\n".b
        return out.byteslice(0, [out.bytesize - (n + 1), 0].max)
      else
        raise CaseProblem, "unknown tamper op #{JSON.generate(op)}"
      end
    end
    lines.empty? ? +"" : "#{lines.join("\n")}\n"
  end

  # How drain_trace answers compare: {"count", "event_types", "heads"}.
  def trace_summary(jsonl)
    types = []
    heads = {}
    jsonl.b.split("\n").each do |line|
      next if line.empty?

      ev = begin
        JSON.parse(line.force_encoding(Encoding::UTF_8))
      rescue JSON::ParserError
        next
      end
      types << get(ev, "event_type")
      s = get(ev, "session_id")
      h = get(ev, "event_hash")
      heads[s] = h if s.is_a?(String) && h.is_a?(String)
    end
    { "count" => types.size, "event_types" => types, "heads" => heads }
  end
end
