# callqa's changes to the whisper.cpp that whisper-rs-sys builds, applied at build time.
#
# whisper-rs-sys hands every CMAKE_* environment variable to whisper.cpp's CMake build, and
# .cargo/config.toml sets CMAKE_PROJECT_INCLUDE to this file, which CMake includes at the end
# of each project() call. At the first one (whisper.cpp's top directory) it schedules, for the
# end of that directory, the replacement of the `whisper` library's src/whisper.cpp by a copy
# with whisper.cpp.patch applied. The pristine source in Cargo's registry is never touched.
# whisper-rs-sys is pinned by Cargo.lock, so the patch meets the source it was made for; if it
# ever does not apply, the build stops here and says so.

if(CMAKE_VERSION VERSION_LESS 3.19)
  message(FATAL_ERROR "callqa: building whisper.cpp with callqa's patch needs CMake 3.19 or later (cmake_language DEFER); found ${CMAKE_VERSION}")
endif()

get_property(callqa_patch_scheduled GLOBAL PROPERTY CALLQA_WHISPER_PATCH_SCHEDULED)
if(NOT callqa_patch_scheduled)
  set_property(GLOBAL PROPERTY CALLQA_WHISPER_PATCH_SCHEDULED TRUE)

  function(callqa_patch_whisper)
    if(NOT TARGET whisper)
      message(FATAL_ERROR "callqa: whisper.cpp's build has no `whisper` target to patch")
    endif()
    set(patch_file "${CALLQA_WHISPER_PATCH_DIR}/whisper.cpp.patch")
    get_target_property(source_dir whisper SOURCE_DIR)
    set(patched "${CMAKE_BINARY_DIR}/callqa-patched/whisper.cpp")
    file(MAKE_DIRECTORY "${CMAKE_BINARY_DIR}/callqa-patched")
    find_program(CALLQA_PATCH patch REQUIRED)
    execute_process(
      COMMAND "${CALLQA_PATCH}" --batch --silent --fuzz=0 --reject-file=-
              "--output=${patched}" "${source_dir}/whisper.cpp" "${patch_file}"
      RESULT_VARIABLE status
      OUTPUT_VARIABLE output
      ERROR_VARIABLE output)
    if(NOT status EQUAL 0)
      message(FATAL_ERROR "callqa: ${patch_file} does not apply to ${source_dir}/whisper.cpp:\n${output}")
    endif()
    get_target_property(sources whisper SOURCES)
    list(TRANSFORM sources REPLACE "^whisper\\.cpp$" "${patched}")
    if(NOT "${patched}" IN_LIST sources)
      message(FATAL_ERROR "callqa: the `whisper` target does not compile whisper.cpp: ${sources}")
    endif()
    set_target_properties(whisper PROPERTIES SOURCES "${sources}")
    # The copy includes its neighbours ("whisper-arch.h") from the original directory.
    target_include_directories(whisper PRIVATE "${source_dir}")
    set_property(DIRECTORY "${CMAKE_SOURCE_DIR}" APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${patch_file}")
    message(STATUS "callqa: whisper.cpp patched with ${patch_file}")
  endfunction()

  set(CALLQA_WHISPER_PATCH_DIR "${CMAKE_CURRENT_LIST_DIR}")
  cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL callqa_patch_whisper)
endif()
