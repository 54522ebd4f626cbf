# Included by whisper.cpp's CMake build at the end of each project() call
# (CMAKE_PROJECT_INCLUDE, set in .cargo/config.toml; whisper-rs-sys hands CMAKE_* variables
# to CMake). It changes one default of the ggml copy that whisper-rs-sys builds; see
# ggml_defaults.h for what and why.
add_compile_options(
  "$<$<COMPILE_LANGUAGE:CXX>:SHELL:-include ${CMAKE_CURRENT_LIST_DIR}/ggml_defaults.h>")
