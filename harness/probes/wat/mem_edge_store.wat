;; i32.store of a marker at a (param 0) + a static offset chosen by param 1, then a plain
;; read-back at the effective address the harness computed (param 2), taken before the store (a
;; store into the prelude's scratch, where the parameters live, must not move it). Prints S, V, D.
(module
  ;; @prelude
  (memory (export "memory") 1)
  (func (export "_start") (local $a i32) (local $back i32)
    (call $read_params) (call $fill_pattern)
    (local.set $a (call $arg (i32.const 0)))
    (local.set $back (call $arg (i32.const 2)))
    (call $put (i32.const 83) (local.get $a))
    (block $done
      (block $o4 (block $o3 (block $o2 (block $o1 (block $o0
        (br_table $o0 $o1 $o2 $o3 $o4 $o4 (call $arg (i32.const 1))))
        (i32.store offset=0 (local.get $a) (i32.const 0xC0FFEE11)) (br $done))
        (i32.store offset=1 (local.get $a) (i32.const 0xC0FFEE11)) (br $done))
        (i32.store offset=0x7fffffff (local.get $a) (i32.const 0xC0FFEE11)) (br $done))
        (i32.store offset=0x80000000 (local.get $a) (i32.const 0xC0FFEE11)) (br $done))
        (i32.store offset=0xfffffffc (local.get $a) (i32.const 0xC0FFEE11)))
    (call $put (i32.const 86) (i32.load (local.get $back)))
    (call $put (i32.const 68) (i32.const 0))))
