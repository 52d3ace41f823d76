# frozen_string_literal: true

# Runs every test file: ruby -w -Ilib test/run.rb (from examples/ruby).
$LOAD_PATH.unshift(File.expand_path("../lib", __dir__))
Dir[File.join(__dir__, "test_*.rb")].sort.each { |f| require f }
