;; i32.store (i32.shl idx k) of a marker (k in 1..3, param 1), then a plain read-back at the
;; wrapped address the harness computed (param 2): it must hold the marker. The read-back address
;; is taken before the store: a store into the prelude's scratch (where the parameters live) is
;; in bounds and must not turn the read-back into a trap.
(module
  ;; @prelude
  (memory (export "memory") 1)
  (func $store (param $i i32) (param $k i32)
    (block $k3 (block $k2 (block $k1
      (br_table $k1 $k1 $k2 $k3 $k3 (local.get $k)))
      (i32.store (i32.shl (local.get $i) (i32.const 1)) (i32.const 0xC0FFEE11)) (return))
      (i32.store (i32.shl (local.get $i) (i32.const 2)) (i32.const 0xC0FFEE11)) (return))
    (i32.store (i32.shl (local.get $i) (i32.const 3)) (i32.const 0xC0FFEE11)))
  (func (export "_start") (local $back i32)
    (call $read_params) (call $fill_pattern)
    (local.set $back (call $arg (i32.const 2)))
    (call $put (i32.const 83) (call $arg (i32.const 0)))
    (call $store (call $arg (i32.const 0)) (call $arg (i32.const 1)))
    (call $put (i32.const 86) (i32.load (local.get $back)))
    (call $put (i32.const 68) (i32.const 0))))
