;; Unbounded recursion, printing the depth every 1024 frames (the last R line before the trap
;; is a lower bound of the depth reached; depth differs between engines and is not judged).
(module
  ;; @prelude
  (memory (export "memory") 1)
  (func $down (param $n i64) (result i64)
    (if (i64.eqz (i64.and (local.get $n) (i64.const 0x3ff)))
      (then (call $put (i32.const 82) (i32.wrap_i64 (local.get $n)))))
    (i64.add (call $down (i64.add (local.get $n) (i64.const 1))) (i64.const 1)))
  (func (export "_start")
    (call $put (i32.const 83) (i32.const 0))
    (drop (call $down (i64.const 1)))
    (call $put (i32.const 88) (i32.const 0))))
