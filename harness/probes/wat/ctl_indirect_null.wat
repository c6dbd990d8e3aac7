;; call_indirect through a null table entry (entries 2..7 of 8 are never set): must trap.
(module
  ;; @prelude
  (memory (export "memory") 1)
  (type $t (func (result i32)))
  (table 8 funcref)
  (elem (i32.const 0) $f $f)
  (func $f (type $t) (call $put (i32.const 67) (i32.const 0)) (i32.const 0x11))
  (func (export "_start")
    (call $read_params)
    (call $put (i32.const 83) (call $arg (i32.const 0)))
    (call $put (i32.const 86) (call_indirect (type $t) (call $arg (i32.const 0))))
    (call $put (i32.const 68) (i32.const 0))))
