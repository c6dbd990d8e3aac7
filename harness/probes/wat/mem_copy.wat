;; memory.copy(dst, src, len) from params 0..2: a source or destination across the end must trap.
(module
  ;; @prelude
  (memory (export "memory") 1)
  (func (export "_start")
    (call $read_params)
    (call $put (i32.const 83) (call $arg (i32.const 0)))
    (memory.copy (call $arg (i32.const 0)) (call $arg (i32.const 1)) (call $arg (i32.const 2)))
    (call $put (i32.const 68) (i32.const 0))))
