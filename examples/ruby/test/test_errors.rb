# frozen_string_literal: true

# The Ruby error map against the one error table, conformance/errors.json (generated from
# core/src/error.rs; docs/errors.md): no code missing, no extra code, every family agrees.
require "json"
require "minitest/autorun"
require "cra"

class TestErrors < Minitest::Test
  TABLE = JSON.parse(File.read(File.expand_path("../../../conformance/errors.json", __dir__)))

  # Every disagreement between a table and a binding map, one line each.
  def self.drift(table, codes, families)
    problems = []
    wanted = (table["codes"] + table["abi_statuses"]).to_h { |e| [e["code"], e] }
    names = table["families"].map { |f| f["family"] }
    (names - families.keys).each { |f| problems << "family #{f} has no class" }
    (families.keys - names).each { |f| problems << "family #{f} is not in the table" }
    wanted.each do |code, e|
      status, cls = codes[code]
      if cls.nil?
        problems << "#{code} is missing from Cra::CODES"
      elsif status != e["status"]
        problems << "#{code}: status #{status}, the table says #{e["status"]}"
      elsif !families[e["family"]] || !(cls <= families[e["family"]])
        problems << "#{code}: #{cls} is not in family #{e["family"]}"
      end
    end
    (codes.keys - wanted.keys).each { |code| problems << "#{code} is in Cra::CODES but not in the table" }
    problems
  end

  def test_error_map_matches_the_table
    assert_equal [], self.class.drift(TABLE, Cra::CODES, Cra::FAMILIES)
  end

  def test_drift_check_can_fail
    renamed = JSON.parse(JSON.generate(TABLE))
    renamed["codes"].find { |c| c["code"] == "ATLAS_CONFLICT" }["code"] = "ATLAS_CLASH"
    problems = self.class.drift(renamed, Cra::CODES, Cra::FAMILIES)
    assert_includes problems, "ATLAS_CLASH is missing from Cra::CODES"
    assert_includes problems, "ATLAS_CONFLICT is in Cra::CODES but not in the table"

    moved = JSON.parse(JSON.generate(TABLE))
    moved["codes"].find { |c| c["code"] == "INVALID_PARAMETERS" }["family"] = "action"
    assert_equal ["INVALID_PARAMETERS: Cra::InvalidParametersError is not in family action"],
                 self.class.drift(moved, Cra::CODES, Cra::FAMILIES)

    fewer = Cra::CODES.reject { |k, _| k == "TIMEOUT" }
    assert_equal ["TIMEOUT is missing from Cra::CODES"], self.class.drift(TABLE, fewer, Cra::FAMILIES)
  end

  def test_error_class_and_family
    (TABLE["codes"] + TABLE["abi_statuses"]).each do |e|
      err = Cra.error_class(e["status"]).new("x", code: e["code"], status: e["status"])
      assert_equal e["family"], err.family, e["code"]
    end
    assert_equal Cra::InternalError, Cra.error_class(4242)
    assert_nil Cra::Error.new("x").family
    # Earlier names still work.
    assert_operator Cra::CallError, :<, Cra::RequestError
    assert_operator Cra::ClosedError, :<, Cra::ResourceError
    assert_operator Cra::PoisonedError, :<, Cra::PanicError
  end
end
