;; call_indirect through table entry param 0 with the signature chosen by param 1; entry 0 is
;; (i32)->i32, entry 1 is (i64 i64)->i32. A mismatch must trap before the callee runs: the
;; callee prints C. Prints S, C (if called), V, D.
(module
  ;; @prelude
  (memory (export "memory") 1)
  (type $t_i32 (func (param i32) (result i32)))
  (type $t_i64s (func (param i64 i64) (result i32)))
  (type $t_f32 (func (param f32) (result i32)))
  (type $t_none (func (result i64)))
  (table 2 funcref)
  (elem (i32.const 0) $f0 $f1)
  (func $f0 (type $t_i32) (call $put (i32.const 67) (local.get 0)) (i32.const 0x11))
  (func $f1 (type $t_i64s) (call $put (i32.const 67) (i32.wrap_i64 (local.get 0))) (i32.const 0x22))
  (func (export "_start") (local $i i32) (local $v i32)
    (call $read_params)
    (local.set $i (call $arg (i32.const 0)))
    (call $put (i32.const 83) (local.get $i))
    (block $done
      (block $s3 (block $s2 (block $s1 (block $s0
        (br_table $s0 $s1 $s2 $s3 $s3 (call $arg (i32.const 1))))
        (local.set $v (call_indirect (type $t_i32) (i32.const 7) (local.get $i))) (br $done))
        (local.set $v (call_indirect (type $t_i64s) (i64.const 7) (i64.const 8) (local.get $i))) (br $done))
        (local.set $v (call_indirect (type $t_f32) (f32.const 7) (local.get $i))) (br $done))
      (local.set $v (i32.wrap_i64 (call_indirect (type $t_none) (local.get $i)))))
    (call $put (i32.const 86) (local.get $v))
    (call $put (i32.const 68) (i32.const 0))))
