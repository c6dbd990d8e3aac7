;; call_indirect with an index (param 0) at or past the end of a 4-entry table: must trap.
(module
  ;; @prelude
  (memory (export "memory") 1)
  (type $t (func (result i32)))
  (table 4 funcref)
  (elem (i32.const 0) $f $f $f $f)
  (func $f (type $t) (call $put (i32.const 67) (i32.const 0)) (i32.const 0x11))
  (func (export "_start")
    (call $read_params)
    (call $put (i32.const 83) (call $arg (i32.const 0)))
    (call $put (i32.const 86) (call_indirect (type $t) (call $arg (i32.const 0))))
    (call $put (i32.const 68) (i32.const 0))))
