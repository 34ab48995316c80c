/* The chat page served at / (data/chat.html, compiled in). */
#ifndef LOAM_SERVER_PAGE_H
#define LOAM_SERVER_PAGE_H
#include <stddef.h>

extern const char loam_chat_page_text[];
#define srv_page_html loam_chat_page_text

#endif
