;; world: net-p2
;; Network probe as a WASI 0.2 component: this core module, wrapped by wasm-tools against
;; net_p2.wit (harness.probes.guests.build_component). It reads the canary listener's port from
;; stdin (its first u32), opens a TCP socket through wasi:sockets without any grant, connects to
;; 127.0.0.1:port and sends a few bytes. Each step's result goes to stdout, `STEP ok` or
;; `STEP error XX` (the error-code case number in hex, named by harness.probes.sockabi), then
;; PROBE-DONE. The canary listener is the judge.
(module
  (import "wasi:cli/stdin@0.2.0" "get-stdin" (func $get_stdin (result i32)))
  (import "wasi:cli/stdout@0.2.0" "get-stdout" (func $get_stdout (result i32)))
  (import "wasi:io/streams@0.2.0" "[method]input-stream.blocking-read" (func $read (param i32 i64 i32)))
  (import "wasi:io/streams@0.2.0" "[method]output-stream.blocking-write-and-flush" (func $write (param i32 i32 i32 i32)))
  (import "wasi:io/poll@0.2.0" "[method]pollable.block" (func $block (param i32)))
  (import "wasi:sockets/instance-network@0.2.0" "instance-network" (func $network (result i32)))
  (import "wasi:sockets/tcp-create-socket@0.2.0" "create-tcp-socket" (func $create (param i32 i32)))
  (import "wasi:sockets/tcp@0.2.0" "[method]tcp-socket.start-connect"
    (func $start_connect (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)))
  (import "wasi:sockets/tcp@0.2.0" "[method]tcp-socket.finish-connect" (func $finish_connect (param i32 i32)))
  (import "wasi:sockets/tcp@0.2.0" "[method]tcp-socket.subscribe" (func $subscribe (param i32) (result i32)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 65536))
  (global $stdout (mut i32) (i32.const -1))
  ;; 0..15: the calls' return area; 48..63: stdout writes' own; 64..: a line; 256..: texts
  (data (i32.const 256) "create-tcp-socket")   ;; 17
  (data (i32.const 288) "start-connect")       ;; 13
  (data (i32.const 320) "finish-connect")      ;; 14
  (data (i32.const 352) "send")                ;; 4
  (data (i32.const 384) "PROBE-DONE\n")        ;; 11
  (data (i32.const 416) "probe net-connect-p2") ;; 20
  (data (i32.const 448) "stdin")               ;; 5
  (data (i32.const 480) "0123456789abcdef")

  (func (export "cabi_realloc") (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
                           (i32.sub (i32.const 0) (local.get $align))))
    (global.set $heap (i32.add (local.get $p) (local.get $size)))
    (if (i32.gt_u (global.get $heap) (i32.shl (memory.size) (i32.const 16)))
      (then (if (i32.lt_s (memory.grow (i32.const 1)) (i32.const 0)) (then unreachable))))
    (local.get $p))

  (func $out (param $p i32) (param $n i32)
    (call $write (global.get $stdout) (local.get $p) (local.get $n) (i32.const 48)))

  ;; "<name> ok\n" when the result at $ret is ok, else "<name> error <hex code>\n"; returns ok?
  (func $step (param $name i32) (param $len i32) (param $ret i32) (param $code_at i32) (result i32)
    (local $n i32) (local $code i32)
    (memory.copy (i32.const 64) (local.get $name) (local.get $len))
    (local.set $n (i32.add (i32.const 64) (local.get $len)))
    (if (i32.eqz (i32.load8_u (local.get $ret)))
      (then
        (i32.store (local.get $n) (i32.const 0x0a6b6f20)) ;; " ok\n"
        (call $out (i32.const 64) (i32.add (local.get $len) (i32.const 4)))
        (return (i32.const 1))))
    (local.set $code (i32.load8_u (local.get $code_at)))
    (i64.store (local.get $n) (i64.const 0x20726f727265_20))  ;; " error "
    (i32.store8 (i32.add (local.get $n) (i32.const 7)) (i32.load8_u (i32.add (i32.const 480) (i32.shr_u (local.get $code) (i32.const 4)))))
    (i32.store8 (i32.add (local.get $n) (i32.const 8)) (i32.load8_u (i32.add (i32.const 480) (i32.and (local.get $code) (i32.const 15)))))
    (i32.store8 (i32.add (local.get $n) (i32.const 9)) (i32.const 10))
    (call $out (i32.const 64) (i32.add (local.get $len) (i32.const 10)))
    (i32.const 0))

  (func $attempt
    (local $port i32) (local $sock i32) (local $net i32) (local $tries i32) (local $streams_out i32)
    ;; the parameters: stdin's first u32 is the port
    (call $read (call $get_stdin) (i64.const 64) (i32.const 0))
    (if (i32.eqz (call $step (i32.const 448) (i32.const 5) (i32.const 0) (i32.const 4))) (then (return)))
    (local.set $port (i32.and (i32.load (i32.load (i32.const 4))) (i32.const 0xffff)))
    (call $create (i32.const 0) (i32.const 0)) ;; ipv4
    (if (i32.eqz (call $step (i32.const 256) (i32.const 17) (i32.const 0) (i32.const 4))) (then (return)))
    (local.set $sock (i32.load (i32.const 4)))
    (local.set $net (call $network))
    (call $start_connect (local.get $sock) (local.get $net)
      (i32.const 0) (local.get $port) (i32.const 127) (i32.const 0) (i32.const 0) (i32.const 1)
      (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
      (i32.const 0))
    (if (i32.eqz (call $step (i32.const 288) (i32.const 13) (i32.const 0) (i32.const 1))) (then (return)))
    (block $done
      (loop $wait
        (call $block (call $subscribe (local.get $sock)))
        (call $finish_connect (local.get $sock) (i32.const 0))
        ;; would-block (8): not connected yet
        (br_if $done (i32.eqz (i32.load8_u (i32.const 0))))
        (br_if $done (i32.ne (i32.load8_u (i32.const 4)) (i32.const 8)))
        (local.set $tries (i32.add (local.get $tries) (i32.const 1)))
        (br_if $wait (i32.lt_u (local.get $tries) (i32.const 100)))))
    (if (i32.eqz (call $step (i32.const 320) (i32.const 14) (i32.const 0) (i32.const 4))) (then (return)))
    (local.set $streams_out (i32.load (i32.const 8)))
    (call $write (local.get $streams_out) (i32.const 416) (i32.const 20) (i32.const 0))
    (drop (call $step (i32.const 352) (i32.const 4) (i32.const 0) (i32.const 4))))

  (func (export "wasi:cli/run@0.2.0#run") (result i32)
    (global.set $stdout (call $get_stdout))
    (call $attempt)
    (call $out (i32.const 384) (i32.const 11))
    (i32.const 0)))
