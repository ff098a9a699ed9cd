/* Vector table and reset for mps2-an386 (Cortex-M4F). QEMU loads the ELF and
 * takes the initial SP and PC from the table at 0x00000000. */
#include <stdint.h>
#include <string.h>

extern uint32_t _estack;
extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss;

int main(void);
void Reset_Handler(void);
void Default_Handler(void);

void NMI_Handler(void) __attribute__((weak, alias("Default_Handler")));
void HardFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void MemManage_Handler(void) __attribute__((weak, alias("Default_Handler")));
void BusFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void UsageFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SVC_Handler(void) __attribute__((weak, alias("Default_Handler")));
void DebugMon_Handler(void) __attribute__((weak, alias("Default_Handler")));
void PendSV_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler")));

#define EXTERNAL_IRQS 32 /* QEMU's mps2-an386 NVIC has 32 */

typedef void (*vector_t)(void);

__attribute__((section(".isr_vector"), used)) const vector_t g_vectors[16 + EXTERNAL_IRQS] = {
    (vector_t)(uintptr_t)&_estack,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    0,
    0,
    0,
    0,
    SVC_Handler,
    DebugMon_Handler,
    0,
    PendSV_Handler,
    SysTick_Handler,
    [16 ... 16 + EXTERNAL_IRQS - 1] = Default_Handler,
};

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)

void Reset_Handler(void) {
  /* Full access to CP10/CP11 before any floating-point instruction: we build
   * with -mfloat-abi=hard -mfpu=fpv4-sp-d16. */
  SCB_CPACR |= 0xFu << 20;
  __asm volatile("dsb\n isb" ::: "memory");

  uint32_t *src = &_sidata;
  for (uint32_t *dst = &_sdata; dst < &_edata;) *dst++ = *src++;
  for (uint32_t *dst = &_sbss; dst < &_ebss;) *dst++ = 0;

  main();
  for (;;) {
  }
}

/* An unexpected exception: stop here (a debugger or QEMU's -d int shows where). */
void Default_Handler(void) {
  for (;;) {
  }
}
