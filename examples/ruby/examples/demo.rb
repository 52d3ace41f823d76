# frozen_string_literal: true

# CRA from Ruby, the twin of examples/c/demo.c: loads the customer-support atlas, resolves what
# a support agent may do, checks and authorizes one tool call, reports its result, ends the
# session, then drains the trace and verifies its hash chain.
#
#   make build-ffi
#   ruby -Iexamples/ruby/lib examples/ruby/examples/demo.rb examples/atlases/customer-support

require "cra"

atlas_dir = ARGV.fetch(0, "examples/atlases/customer-support")
session = "demo-ruby-1"
requester = { agent_id: "support-bot", session_id: session }

puts "libcra #{Cra.version} (ABI #{Cra.abi_version})"
ok = Cra::Resolver.open do |r|
  info = r.load_atlas_dir(atlas_dir)
  puts "loaded   #{info['atlas_id']} #{info['version']} (#{info['actions']} actions, #{info['policies']} policies)"

  res = r.resolve({ requester: requester, task: { goal: "Where is order ORD-1234? The customer wants a refund." } })
  puts "resolved #{res['resolution_id']}: #{res.dig('decision', 'type')}, #{res['allowed_actions'].size} allowed, " \
       "#{res['denied_actions'].size} denied, #{res['pending_actions'].size} pending"
  puts "check    orders.lookup -> #{r.check(session, 'orders.lookup')}"

  answer = r.execute({ requester: requester,
                       execution: { resolution_id: res["resolution_id"], action_id: "orders.lookup",
                                    parameters: { order_id: "ORD-1234" } } })
  abort "demo: the call was not authorized: #{answer}" unless answer["status"] == "authorized"
  puts "execute  #{answer['status']} #{answer['execution_id']}"

  # ... the host runs the tool here, then reports what it returned ...
  puts "report   #{r.report({ execution_id: answer['execution_id'], result: { status: 'delivered' }, duration_ms: 3.5 }, raw: true)}"
  r.end_session({ session_id: session, reason: "done" })

  trace = r.drain_trace
  report = Cra.verify_trace(trace)
  puts "trace    #{trace.count("\n")} events, verify: ok=#{report['ok']}, #{report['sessions']} sessions"
  report["ok"]
rescue Cra::Error => e
  abort "demo: #{e.class}: #{e.message}"
end
puts ok ? "demo: trace verified" : "demo: TRACE DID NOT VERIFY"
exit(ok ? 0 : 1)
