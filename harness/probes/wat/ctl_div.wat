;; Integer division: op (param 0: 0 div_s, 1 div_u, 2 rem_s, 3 rem_u, 4 i64.div_s) on
;; a (param 1) and b (param 2). By zero, and INT_MIN / -1 for div_s, must trap.
(module
  ;; @prelude
  (memory (export "memory") 1)
  (func $op (param $o i32) (param $a i32) (param $b i32) (result i32)
    (block $d4 (block $d3 (block $d2 (block $d1 (block $d0
      (br_table $d0 $d1 $d2 $d3 $d4 $d4 (local.get $o)))
      (return (i32.div_s (local.get $a) (local.get $b))))
      (return (i32.div_u (local.get $a) (local.get $b))))
      (return (i32.rem_s (local.get $a) (local.get $b))))
      (return (i32.rem_u (local.get $a) (local.get $b))))
    (i32.wrap_i64 (i64.div_s (i64.extend_i32_s (local.get $a)) (i64.extend_i32_s (local.get $b)))))
  (func (export "_start")
    (call $read_params)
    (call $put (i32.const 83) (call $arg (i32.const 0)))
    (call $put (i32.const 86) (call $op (call $arg (i32.const 0)) (call $arg (i32.const 1)) (call $arg (i32.const 2))))
    (call $put (i32.const 68) (i32.const 0))))
