# Compiles shaders/*.comp to SPIR-V (Vulkan 1.2), validates each module with
# spirv-val, and embeds them all into one generated C source.
#
# Shaders named *_coopmat.comp use GL_KHR_cooperative_matrix: they need
# glslang 13 or newer and a spirv-val that knows the extension (PyPI's cmeel
# builds, which ci/deps.sh wraps as .venv/bin/ei-glslang and ei-spirv-val;
# Debian 12's are too old) and are left out, with a notice, when the tools
# found here cannot build and validate them.

find_program(GLSLC glslc REQUIRED)
find_program(SPIRV_VAL spirv-val REQUIRED)
find_program(EI_GLSLANG NAMES ei-glslang glslangValidator
  HINTS ${PROJECT_SOURCE_DIR}/.venv/bin ENV EI_GLSLANG_DIR
  DOC "glslangValidator used for cooperative-matrix shaders")
find_program(EI_COOPMAT_SPIRV_VAL NAMES ei-spirv-val spirv-val
  HINTS ${PROJECT_SOURCE_DIR}/.venv/bin ENV EI_GLSLANG_DIR
  DOC "spirv-val used for cooperative-matrix shaders")

set(EI_HAVE_COOPMAT_COMPILER OFF)
if(EI_GLSLANG AND EI_COOPMAT_SPIRV_VAL)
  set(probe_spv ${CMAKE_BINARY_DIR}/coopmat_probe.spv)
  execute_process(
    COMMAND ${EI_GLSLANG} -V --target-env vulkan1.2 ${PROJECT_SOURCE_DIR}/cmake/coopmat_probe.comp -o ${probe_spv}
    RESULT_VARIABLE compile_rc OUTPUT_QUIET ERROR_QUIET)
  if(compile_rc EQUAL 0)
    execute_process(COMMAND ${EI_COOPMAT_SPIRV_VAL} --target-env vulkan1.2 ${probe_spv}
      RESULT_VARIABLE validate_rc OUTPUT_QUIET ERROR_QUIET)
    if(validate_rc EQUAL 0)
      set(EI_HAVE_COOPMAT_COMPILER ON)
    endif()
  endif()
endif()
message(STATUS "Cooperative-matrix shaders: ${EI_HAVE_COOPMAT_COMPILER} (${EI_GLSLANG}, ${EI_COOPMAT_SPIRV_VAL})")

function(ei_embed_shaders out_source)
  file(GLOB shader_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/shaders/*.comp)
  file(GLOB shader_includes CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/shaders/common/*.glsl)
  set(spv_dir ${CMAKE_BINARY_DIR}/shaders)
  file(MAKE_DIRECTORY ${spv_dir})
  set(spv_files)
  set(embed_args)
  foreach(src ${shader_sources})
    get_filename_component(name ${src} NAME_WE)
    set(spv ${spv_dir}/${name}.spv)
    if(name MATCHES "_coopmat$")
      if(NOT EI_HAVE_COOPMAT_COMPILER)
        message(STATUS "  skipping ${name}: the shader compiler lacks GL_KHR_cooperative_matrix")
        continue()
      endif()
      set(compile ${EI_GLSLANG} -V --target-env vulkan1.2 -I${PROJECT_SOURCE_DIR}/shaders ${src} -o ${spv})
      set(env vulkan1.2)
      set(validate ${EI_COOPMAT_SPIRV_VAL})
    else()
      set(compile ${GLSLC} --target-env=vulkan1.2 -O -I ${PROJECT_SOURCE_DIR}/shaders ${src} -o ${spv})
      set(env vulkan1.2)
      set(validate ${SPIRV_VAL})
    endif()
    add_custom_command(
      OUTPUT ${spv}
      COMMAND ${compile}
      COMMAND ${validate} --target-env ${env} ${spv}
      DEPENDS ${src} ${shader_includes}
      COMMENT "Compiling shader ${name}"
      VERBATIM)
    list(APPEND spv_files ${spv})
    list(APPEND embed_args ${name}=${spv})
  endforeach()
  add_custom_command(
    OUTPUT ${out_source}
    COMMAND spv_embed ${out_source} ${embed_args}
    DEPENDS spv_embed ${spv_files}
    COMMENT "Embedding SPIR-V"
    VERBATIM)
endfunction()
