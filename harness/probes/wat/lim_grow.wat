;; Grow memory by param 0 pages at a time until refused (or 65536 pages), touching each new
;; page; prints the page count after every grow (Z) and the refusing grow's result (G).
(module
  ;; @prelude
  (memory (export "memory") 1)
  (func (export "_start") (local $r i32) (local $step i32)
    (call $read_params)
    (local.set $step (call $arg (i32.const 0)))
    (block $refused
      (loop $more
        (local.set $r (memory.grow (local.get $step)))
        (br_if $refused (i32.eq (local.get $r) (i32.const -1)))
        (i32.store8 (i32.sub (i32.shl (memory.size) (i32.const 16)) (i32.const 1)) (i32.const 1))
        (call $put (i32.const 90) (memory.size))
        (br $more)))
    (call $put (i32.const 71) (local.get $r))
    (call $put (i32.const 90) (memory.size))
    (call $put (i32.const 68) (i32.const 0))))
