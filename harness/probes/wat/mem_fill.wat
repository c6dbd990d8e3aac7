;; memory.fill(dst, value, len) from params 0..2: across the end it must trap, writing nothing.
(module
  ;; @prelude
  (memory (export "memory") 1)
  (func (export "_start")
    (call $read_params)
    (call $put (i32.const 83) (call $arg (i32.const 0)))
    (memory.fill (call $arg (i32.const 0)) (call $arg (i32.const 1)) (call $arg (i32.const 2)))
    (call $put (i32.const 68) (i32.const 0))))
