/* The device log: diagnostics of the firmware and of TFLM (its DebugLog), as
 * lines of printable ASCII. The serial link carries only frames, so a line is
 * never printed: the app (app.c) keeps the last few lines and sends each as a
 * LOG frame (docs/protocol.md) just before its next answer to the host, and
 * replays the ones it kept whenever a HELLO arrives, so lines written at boot,
 * before any host was listening, still reach it. Nothing is sent unprompted.
 *
 * Never blocks and never allocates; safe to call before app_init() (lines are
 * then kept like any other). Not reentrant: call from the main loop only. */
#ifndef TINYML_LOG_H
#define TINYML_LOG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Appends text to the current line; '\n' ends it, '\r' is ignored, any other
 * byte outside printable ASCII becomes '?'. A line longer than
 * PROTO_LOG_MAX_TEXT is split. Empty lines are dropped. */
void tml_log_write(const char *text);

/* Appends v in decimal to the current line. */
void tml_log_u32(uint32_t v);

/* tml_log_write(line) and ends the line. */
void tml_log(const char *line);

#ifdef __cplusplus
}
#endif

#endif
