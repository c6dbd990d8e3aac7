;; An infinite loop: only fuel, an epoch deadline or the harness's timeout stops it.
(module
  ;; @prelude
  (memory (export "memory") 1)
  (func (export "_start") (local $n i32)
    (call $put (i32.const 83) (i32.const 0))
    (loop $forever (local.set $n (i32.add (local.get $n) (i32.const 1))) (br $forever))))
