;; `unreachable` at a call depth of param 0 (0..15): must trap; X after it means it did not.
(module
  ;; @prelude
  (memory (export "memory") 1)
  (func $down (param $n i32)
    (if (local.get $n) (then (call $down (i32.sub (local.get $n) (i32.const 1))) (return)))
    (unreachable))
  (func (export "_start")
    (call $read_params)
    (call $put (i32.const 83) (call $arg (i32.const 0)))
    (call $down (i32.and (call $arg (i32.const 0)) (i32.const 15)))
    (call $put (i32.const 88) (i32.const 0))
    (call $put (i32.const 68) (i32.const 0))))
