# Install rules and the CMake package: find_package(QtActors) gives QtActors::QtActors, from an
# install prefix or straight from a build tree (QtActors_DIR=<build dir>).
include_guard(GLOBAL)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(QTACTORS_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/QtActors)

install(TARGETS QtActors EXPORT QtActorsTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# The whole header directory: lowercase headers, CamelCase forwarding headers (no extension), detail/.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/QtActors DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES
    ${QTACTORS_GENERATED_INCLUDE_DIR}/QtActors/qtactorsversion.h
    ${QTACTORS_GENERATED_INCLUDE_DIR}/QtActors/QtActorsVersion
    ${QTACTORS_GENERATED_INCLUDE_DIR}/QtActors/qtactors_export.h
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/QtActors)

install(EXPORT QtActorsTargets
    NAMESPACE QtActors::
    DESTINATION ${QTACTORS_CMAKE_INSTALL_DIR})
export(EXPORT QtActorsTargets
    NAMESPACE QtActors::
    FILE ${PROJECT_BINARY_DIR}/QtActorsTargets.cmake)

# One config file serves both the build tree and the install tree: it only uses paths relative
# to itself.
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/QtActorsConfig.cmake.in
    ${PROJECT_BINARY_DIR}/QtActorsConfig.cmake
    INSTALL_DESTINATION ${QTACTORS_CMAKE_INSTALL_DIR}
    NO_SET_AND_CHECK_MACRO
    NO_CHECK_REQUIRED_COMPONENTS_MACRO)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/QtActorsConfigVersion.cmake
    VERSION ${PROJECT_VERSION}
    COMPATIBILITY SameMajorVersion)
install(FILES
    ${PROJECT_BINARY_DIR}/QtActorsConfig.cmake
    ${PROJECT_BINARY_DIR}/QtActorsConfigVersion.cmake
    DESTINATION ${QTACTORS_CMAKE_INSTALL_DIR})
