# libturbo's sources, its dependencies and its object library, turbo_objects
# (position-independent, hidden visibility). Included by the project's
# CMakeLists.txt, which makes the shared and static libraries from it, and
# by bindings/python/CMakeLists.txt when pip builds the Python package on
# its own, which compiles these objects into the extension module. One
# list, so a new libturbo/*.c is added here and nowhere else.
#
# The includer sets TURBO_WARNINGS and TURBO_SAN_FLAGS (compile options).

find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
# Prefixed names: turboConfig.cmake recreates these two targets in a
# consumer's project, where plain LIBEVENT/CK could already be taken.
pkg_check_modules(TURBO_LIBEVENT REQUIRED IMPORTED_TARGET libevent_core>=2.1)
pkg_check_modules(TURBO_CK REQUIRED IMPORTED_TARGET ck>=0.7)

set(TURBO_SOURCES
  alog.c
  arena.c
  bufpool.c
  clock.c
  config.c
  conn.c
  date.c
  defer.c
  error.c
  forwarded.c
  exchange.c
  listener.c
  loop.c
  metrics.c
  parse.c
  proxy.c
  pool.c
  request.c
  response.c
  router.c
  routes.c
  server.c
  signals.c
  stream.c
  thread.c
  vec.c
  ws.c
)
list(TRANSFORM TURBO_SOURCES PREPEND ${CMAKE_CURRENT_LIST_DIR}/)

add_library(turbo_objects OBJECT ${TURBO_SOURCES})
set_target_properties(turbo_objects PROPERTIES POSITION_INDEPENDENT_CODE ON
  C_VISIBILITY_PRESET hidden)
target_include_directories(turbo_objects PUBLIC
  $<BUILD_INTERFACE:${CMAKE_CURRENT_LIST_DIR}/../include>
  PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_compile_options(turbo_objects PRIVATE ${TURBO_WARNINGS} ${TURBO_SAN_FLAGS})
target_compile_definitions(turbo_objects PRIVATE _GNU_SOURCE)
target_link_libraries(turbo_objects PUBLIC PkgConfig::TURBO_LIBEVENT PkgConfig::TURBO_CK Threads::Threads)
