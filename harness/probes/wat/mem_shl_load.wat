;; The address-mode folding shape (CVE-2023-26489): i32.load (i32.shl idx k) with a
;; constant k in 1..3 (param 1) and a large idx (param 0); param 2 picks offset 0 or 16.
(module
  ;; @prelude
  (memory (export "memory") 1)
  (func $load (param $i i32) (param $k i32) (param $o i32) (result i32)
    (block $k3 (block $k2 (block $k1
      (br_table $k1 $k1 $k2 $k3 $k3 (local.get $k)))
      (if (local.get $o) (then (return (i32.load offset=16 (i32.shl (local.get $i) (i32.const 1))))))
      (return (i32.load (i32.shl (local.get $i) (i32.const 1)))))
      (if (local.get $o) (then (return (i32.load offset=16 (i32.shl (local.get $i) (i32.const 2))))))
      (return (i32.load (i32.shl (local.get $i) (i32.const 2)))))
    (if (local.get $o) (then (return (i32.load offset=16 (i32.shl (local.get $i) (i32.const 3))))))
    (i32.load (i32.shl (local.get $i) (i32.const 3))))
  (func (export "_start")
    (call $read_params) (call $fill_pattern)
    (call $put (i32.const 83) (call $arg (i32.const 0)))
    (call $put (i32.const 86) (call $load (call $arg (i32.const 0)) (call $arg (i32.const 1)) (call $arg (i32.const 2))))
    (call $put (i32.const 68) (i32.const 0))))
