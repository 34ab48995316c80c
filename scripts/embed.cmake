# Writes a C file holding a text file's bytes (cmake -P; IN, OUT, NAME).
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUT}" "/* generated from ${IN} by scripts/embed.cmake */\n#include <stddef.h>\n"
  "const char ${NAME}_text[] = {${bytes} 0};\nconst size_t ${NAME}_size = sizeof ${NAME}_text - 1;\n")
