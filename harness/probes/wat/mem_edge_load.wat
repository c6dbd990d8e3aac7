;; i32.load at an address a (param 0) with a static offset chosen by param 1, so the
;; effective address a + offset reaches 2^31, 2^32 and 2^33. Prints S, then V <value>, D.
(module
  ;; @prelude
  (memory (export "memory") 1)
  (func (export "_start") (local $a i32) (local $v i32)
    (call $read_params) (call $fill_pattern)
    (local.set $a (call $arg (i32.const 0)))
    (call $put (i32.const 83) (local.get $a))
    (block $done
      (block $o4 (block $o3 (block $o2 (block $o1 (block $o0
        (br_table $o0 $o1 $o2 $o3 $o4 $o4 (call $arg (i32.const 1))))
        (local.set $v (i32.load offset=0 (local.get $a))) (br $done))
        (local.set $v (i32.load offset=1 (local.get $a))) (br $done))
        (local.set $v (i32.load offset=0x7fffffff (local.get $a))) (br $done))
        (local.set $v (i32.load offset=0x80000000 (local.get $a))) (br $done))
        (local.set $v (i32.load offset=0xfffffffc (local.get $a))))
    (call $put (i32.const 86) (local.get $v))
    (call $put (i32.const 68) (i32.const 0))))
