# Build settings for QtActors' own targets: strict warnings, Qt definitions, sanitizers and the
# environment tests run in. None of it reaches consumers of QtActors::QtActors (the root adds only
# QTACTORS_TSAN to the library's public definitions).
include_guard(GLOBAL)
include(CheckCXXCompilerFlag)

set(QTACTORS_SANITIZE "" CACHE STRING
    "Sanitizers for all of the project's targets: empty, address,undefined or thread")
set_property(CACHE QTACTORS_SANITIZE PROPERTY STRINGS "" "address,undefined" "thread")

set(_qtactors_sanitizers ${QTACTORS_SANITIZE})
string(REPLACE "," ";" _qtactors_sanitizers "${_qtactors_sanitizers}")
foreach(_sanitizer IN LISTS _qtactors_sanitizers)
    if(NOT _sanitizer MATCHES "^(address|undefined|thread)$")
        message(FATAL_ERROR "QTACTORS_SANITIZE: unknown sanitizer '${_sanitizer}' "
                            "(use \"\", \"address,undefined\" or \"thread\")")
    endif()
endforeach()
if("thread" IN_LIST _qtactors_sanitizers AND "address" IN_LIST _qtactors_sanitizers)
    message(FATAL_ERROR "QTACTORS_SANITIZE: thread and address cannot be combined")
endif()

# Sanitizers go on every target of this directory tree (library, tests, examples, demo, benchmarks):
# a sanitized library must be linked into sanitized executables.
if(QTACTORS_SANITIZE)
    add_compile_options(-fsanitize=${QTACTORS_SANITIZE} -fno-omit-frame-pointer -g)
    add_link_options(-fsanitize=${QTACTORS_SANITIZE})
    if("undefined" IN_LIST _qtactors_sanitizers)
        add_compile_options(-fno-sanitize-recover=undefined)
        add_link_options(-fno-sanitize-recover=undefined)
    endif()
    if("thread" IN_LIST _qtactors_sanitizers)
        # GCC warns that Qt's headers use std::atomic_thread_fence, which TSan does not model.
        check_cxx_compiler_flag(-Wtsan QTACTORS_COMPILER_HAS_WTSAN)
        if(QTACTORS_COMPILER_HAS_WTSAN)
            add_compile_options(-Wno-tsan)
        endif()
    endif()
endif()

# qtactors_target_defaults(<target>): the project's strict settings for one of its own targets.
function(qtactors_target_defaults target)
    if(MSVC)
        target_compile_options(${target} PRIVATE /W4 $<$<BOOL:${QTACTORS_WERROR}>:/WX>)
    else()
        target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic
                               $<$<BOOL:${QTACTORS_WERROR}>:-Werror>)
        if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
            # GCC 12 at -O2/-O3 reports atomic operations on an object reached through a pointer it
            # cannot prove non-null as "writing 4 bytes into a region of size 0" (a known false
            # positive, cf. GCC bug 104475). Keep the warning, not the build failure; ASan checks
            # real overflows.
            target_compile_options(${target} PRIVATE -Wno-error=stringop-overflow)
        endif()
    endif()
    target_compile_definitions(${target} PRIVATE QT_NO_KEYWORDS QT_NO_CAST_FROM_ASCII)
endfunction()

# The environment every test of the tree runs with: sanitizer options with the suppression files
# in tests/sanitizers/, and QTACTORS_STRESS_SCALE, which shrinks stress loops under TSan.
set(_qtactors_suppressions ${PROJECT_SOURCE_DIR}/tests/sanitizers)
# -DQTACTORS_STRESS_SCALE=<factor> overrides the default.
if(NOT DEFINED QTACTORS_STRESS_SCALE)
    if("thread" IN_LIST _qtactors_sanitizers)
        set(QTACTORS_STRESS_SCALE 0.25)
    else()
        set(QTACTORS_STRESS_SCALE 1)
    endif()
endif()

# Sanitizer reports need function names (suppressions match them). The runtimes' own lookup of
# llvm-symbolizer fails here ("invalid path to external symbolizer"), so pass the path explicitly,
# preferring the one of the compiler's LLVM version.
set(_qtactors_symbolizer_option "")
if(QTACTORS_SANITIZE)
    string(REGEX MATCH "^[0-9]+" _qtactors_compiler_major "${CMAKE_CXX_COMPILER_VERSION}")
    if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
        set(_qtactors_symbolizer_names llvm-symbolizer-${_qtactors_compiler_major} llvm-symbolizer)
    else()
        set(_qtactors_symbolizer_names llvm-symbolizer)
    endif()
    find_program(QTACTORS_LLVM_SYMBOLIZER NAMES ${_qtactors_symbolizer_names}
                 PATHS /usr/lib/llvm-${_qtactors_compiler_major}/bin)
    if(QTACTORS_LLVM_SYMBOLIZER)
        set(_qtactors_symbolizer_option ":external_symbolizer_path=${QTACTORS_LLVM_SYMBOLIZER}")
    else()
        message(WARNING "QtActors: llvm-symbolizer not found; sanitizer reports will show no function "
                        "names and suppressions will not match (scripts/install-deps installs it)")
    endif()
endif()

set(QTACTORS_TEST_ENVIRONMENT "QTACTORS_STRESS_SCALE=${QTACTORS_STRESS_SCALE}")
if("address" IN_LIST _qtactors_sanitizers)
    list(APPEND QTACTORS_TEST_ENVIRONMENT
        "ASAN_OPTIONS=detect_leaks=1:check_initialization_order=1:detect_stack_use_after_return=1:suppressions=${_qtactors_suppressions}/asan.supp${_qtactors_symbolizer_option}"
        "LSAN_OPTIONS=print_suppressions=0:suppressions=${_qtactors_suppressions}/lsan.supp")
endif()
if("undefined" IN_LIST _qtactors_sanitizers)
    list(APPEND QTACTORS_TEST_ENVIRONMENT
        "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=${_qtactors_suppressions}/ubsan.supp${_qtactors_symbolizer_option}")
endif()
if("thread" IN_LIST _qtactors_sanitizers)
    list(APPEND QTACTORS_TEST_ENVIRONMENT
        "TSAN_OPTIONS=ignore_noninstrumented_modules=1:history_size=7:halt_on_error=1:second_deadlock_stack=1:suppressions=${_qtactors_suppressions}/tsan.supp${_qtactors_symbolizer_option}")
endif()

# qtactors_write_test_environment_script(<file>): a script for the TEST_INCLUDE_FILES directory
# property that sets QTACTORS_TEST_ENVIRONMENT in ctest's own environment, so that tests registered
# by other directories (examples, demo) inherit it too.
function(qtactors_write_test_environment_script file)
    set(content "# Generated by QtActors' CMake: the environment of every test run from this tree.\n")
    foreach(entry IN LISTS QTACTORS_TEST_ENVIRONMENT)
        string(FIND "${entry}" "=" eq)
        string(SUBSTRING "${entry}" 0 ${eq} name)
        math(EXPR eq "${eq} + 1")
        string(SUBSTRING "${entry}" ${eq} -1 value)
        string(APPEND content "set(ENV{${name}} [==[${value}]==])\n")
    endforeach()
    file(CONFIGURE OUTPUT ${file} CONTENT "${content}")
endfunction()
