/* startup_cm4.c - minimal Cortex-M4F start-up for edgekit's QEMU harness (machine mps2-an386).
 *
 * Vector table, .data copy, .bss clear, FPU enable, C++ constructors, main(), then exit through
 * semihosting with main's status. Nothing else: no heap, no newlib start-up code. */

#include <stdint.h>

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);

int main(void);
void edgekit_semihost_exit(int status);

void Reset_Handler(void);
void Fault_Handler(void);
void SysTick_Handler(void);

#define CPACR (*(volatile uint32_t *)0xE000ED88u)

__attribute__((noreturn)) void Reset_Handler(void) {
#if defined(__ARM_FP)
  CPACR |= (0xFu << 20); /* CP10 and CP11 full access: the FPU, before any float instruction */
  __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
  for (uint32_t *src = &_sidata, *dst = &_sdata; dst < &_edata;) {
    *dst++ = *src++;
  }
  for (uint32_t *dst = &_sbss; dst < &_ebss;) {
    *dst++ = 0u;
  }
  for (void (**ctor)(void) = __init_array_start; ctor < __init_array_end; ++ctor) {
    (*ctor)();
  }
  edgekit_semihost_exit(main());
  for (;;) {
  }
}

__attribute__((noreturn)) void Fault_Handler(void) {
  edgekit_semihost_exit(99);
  for (;;) {
  }
}

/* Programs that use SysTick (the runtime harness's instruction clock) define their own. */
__attribute__((weak)) void SysTick_Handler(void) {
  Fault_Handler();
}

typedef void (*Vector)(void);

__attribute__((section(".isr_vector"), used)) const Vector g_vectors[16] = {
    (Vector)(uintptr_t)&_estack, /* initial stack pointer */
    Reset_Handler,
    Fault_Handler, /* NMI */
    Fault_Handler, /* HardFault */
    Fault_Handler, /* MemManage */
    Fault_Handler, /* BusFault */
    Fault_Handler, /* UsageFault */
    0, 0, 0, 0,
    Fault_Handler, /* SVCall */
    Fault_Handler, /* DebugMonitor */
    0,
    Fault_Handler, /* PendSV */
    SysTick_Handler, /* the harness's instruction clock (io_semihost.cpp); a fault elsewhere */
};
