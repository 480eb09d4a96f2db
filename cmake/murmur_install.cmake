# `cmake --install build --prefix P`: the C++ library for other projects
# (docs/python.md, "Using murmur from C++"; examples/cpp_consumer/).
#
# Installs include/murmur/, one static library per module
# (lib/libmurmur_<module>.a), lib/cmake/murmur/murmurConfig.cmake (+ version
# file) and lib/pkgconfig/murmur.pc. find_package(murmur) defines
#   murmur::<module>  for every installed module (murmur::core, ::robust,
#                     ::compress, ::runtime, ...),
#   murmur::murmur    all of them.
# Modules built on LibTorch (learn and the layers above it) are exported
# separately and loaded only when find_dependency(Torch) succeeds, so a
# consumer of the LibTorch-free modules never needs Torch.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(MURMUR_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/murmur)
# Modules in dependency order; ones not present in this tree are skipped
# (the module list changes as the tree is reorganized).
set(murmur_plain_modules core compress robust privacy runtime collective)
set(murmur_torch_modules learn protocol sim experiment)

# Module targets carry the source include directory; installed, they carry
# <prefix>/include instead.
function(murmur_export_module module export_set)
  set(target murmur_${module})
  set_property(TARGET ${target} PROPERTY INTERFACE_INCLUDE_DIRECTORIES
               "$<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>"
               "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>")
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${module})
  install(TARGETS ${target} EXPORT ${export_set}
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT devel)
endfunction()

set(murmur_installed_plain)
foreach(module ${murmur_plain_modules})
  if(TARGET murmur_${module})
    murmur_export_module(${module} murmurTargets)
    list(APPEND murmur_installed_plain ${module})
  endif()
endforeach()
set(murmur_installed_torch)
foreach(module ${murmur_torch_modules})
  if(TARGET murmur_${module})
    murmur_export_module(${module} murmurTorchTargets)
    list(APPEND murmur_installed_torch ${module})
  endif()
endforeach()

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/murmur
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT devel)
install(EXPORT murmurTargets NAMESPACE murmur:: DESTINATION ${MURMUR_INSTALL_CMAKEDIR}
        COMPONENT devel)
if(murmur_installed_torch)
  install(EXPORT murmurTorchTargets NAMESPACE murmur:: DESTINATION ${MURMUR_INSTALL_CMAKEDIR}
          COMPONENT devel)
endif()

set(MURMUR_INSTALLED_PLAIN_MODULES ${murmur_installed_plain})
set(MURMUR_INSTALLED_TORCH_MODULES ${murmur_installed_torch})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/murmurConfig.cmake.in
  ${CMAKE_BINARY_DIR}/cmake/murmurConfig.cmake
  INSTALL_DESTINATION ${MURMUR_INSTALL_CMAKEDIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/cmake/murmurConfigVersion.cmake
  VERSION ${MURMUR_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/cmake/murmurConfig.cmake
              ${CMAKE_BINARY_DIR}/cmake/murmurConfigVersion.cmake
        DESTINATION ${MURMUR_INSTALL_CMAKEDIR} COMPONENT devel)

# pkg-config: the LibTorch-free modules, highest first so static linking
# resolves (`pkg-config --static --libs murmur`).
set(murmur_pc_libs)
list(REVERSE murmur_installed_plain)
foreach(module ${murmur_installed_plain})
  string(APPEND murmur_pc_libs " -lmurmur_${module}")
endforeach()
file(RELATIVE_PATH murmur_pc_to_prefix /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
configure_file(${PROJECT_SOURCE_DIR}/cmake/murmur.pc.in ${CMAKE_BINARY_DIR}/cmake/murmur.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/cmake/murmur.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT devel)
