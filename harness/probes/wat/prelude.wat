  ;; Shared by the WAT probes (spliced in where a probe says ";; @prelude").
  ;; Scratch memory: 0..15 iovec and counts, 16..31 the output line, 64..127 parameters
  ;; (up to 16 little-endian u32 words read from stdin). Probes keep their data at 256+.
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (func $read_params (local $got i32) (local $n i32)
    (block $eof
      (loop $more
        (i32.store (i32.const 0) (i32.add (i32.const 64) (local.get $got)))
        (i32.store (i32.const 4) (i32.sub (i32.const 64) (local.get $got)))
        (br_if $eof (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
        (local.set $n (i32.load (i32.const 8)))
        (br_if $eof (i32.eqz (local.get $n)))
        (local.set $got (i32.add (local.get $got) (local.get $n)))
        (br_if $more (i32.lt_u (local.get $got) (i32.const 64))))))
  (func $arg (param $i i32) (result i32)
    (i32.load (i32.add (i32.const 64) (i32.shl (local.get $i) (i32.const 2)))))
  ;; print "<tag> <8 hex digits>\n"
  (func $put (param $tag i32) (param $v i32) (local $i i32) (local $d i32)
    (i32.store8 (i32.const 16) (local.get $tag))
    (i32.store8 (i32.const 17) (i32.const 32))
    (loop $digit
      (local.set $d (i32.and (i32.shr_u (local.get $v) (i32.sub (i32.const 28) (i32.shl (local.get $i) (i32.const 2))))
                             (i32.const 15)))
      (i32.store8 (i32.add (i32.const 18) (local.get $i))
        (i32.add (local.get $d) (select (i32.const 48) (i32.const 87) (i32.lt_u (local.get $d) (i32.const 10)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $digit (i32.lt_u (local.get $i) (i32.const 8))))
    (i32.store8 (i32.const 26) (i32.const 10))
    (i32.store (i32.const 32) (i32.const 16))
    (i32.store (i32.const 36) (i32.const 11))
    (drop (call $fd_write (i32.const 1) (i32.const 32) (i32.const 1) (i32.const 40))))
  ;; word at address a (a multiple of 4, from 256 to the end of the first page) = a * 0x9E3779B1
  ;; xor the per-run nonce (parameter word 15; call after $read_params), echoed as "N <nonce>"
  ;; so the harness knows the pattern and a neighbour's memory cannot hold the same one
  (func $fill_pattern (local $a i32)
    (call $put (i32.const 78) (call $arg (i32.const 15)))
    (local.set $a (i32.const 256))
    (loop $w
      (i32.store (local.get $a) (i32.xor (i32.mul (local.get $a) (i32.const 0x9E3779B1)) (call $arg (i32.const 15))))
      (local.set $a (i32.add (local.get $a) (i32.const 4)))
      (br_if $w (i32.lt_u (local.get $a) (i32.const 65536)))))
