;; memory.grow by param 0 pages (past the runtime's limit or the 4 GiB maximum), then a load
;; at the last byte of the memory it has (must work) and one param 1 bytes past its end
;; (must trap). Prints G <grow result>, Z <pages>, V <last word>, then X if the load past
;; the end returned.
(module
  ;; @prelude
  (memory (export "memory") 1)
  (func (export "_start") (local $end i32)
    (call $read_params)
    (call $put (i32.const 71) (memory.grow (call $arg (i32.const 0))))
    (call $put (i32.const 90) (memory.size))
    (local.set $end (i32.shl (memory.size) (i32.const 16)))
    (call $put (i32.const 86) (i32.load (i32.sub (local.get $end) (i32.const 4))))
    (call $put (i32.const 88) (i32.load (i32.add (local.get $end) (call $arg (i32.const 1)))))
    (call $put (i32.const 68) (i32.const 0))))
